#include "harness/fixture.h"
