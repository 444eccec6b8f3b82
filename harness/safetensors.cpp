#include "harness/safetensors.h"
