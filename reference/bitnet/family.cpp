// The BitNet b1.58 family: HF packed, I2_S (x86 and ARM layouts), TL1, TL2 and the GPU int2
// layout, its bench shapes and the 2B-4T suite.
#include "reference/bitnet/bitnet.h"

namespace qb::bitnet {

Family bitnet_family() {
  Family fam;
  fam.id = "bitnet";
  fam.formats = bitnet_formats();
  // BitNet b1.58 2B-4T's square, MLP up and MLP down shapes (what the targets name).
  fam.default_shapes = {{2560, 2560}, {6912, 2560}, {2560, 6912}};
  fam.suites.push_back({"bitnet-2b4t", "shared/seeds/002 BitNet b1.58 2B-4T tensor list (30 layers, hidden 2560, intermediate 6912)",
                        bitnet_2b4t_layers});
  return fam;
}

}  // namespace qb::bitnet
