#include "benches/shapes.h"

#include <charconv>

namespace qb::bench {

const std::vector<Shape>& default_shapes() {
  // From shared/seeds/004_5923cb9ca39af5a0.txt (llama.cpp Q4_0 quantize log). GGML prints
  // [ne0, ne1] = [in, out], so attn_q/k/v/output [4096, 4096] -> 4096x4096, ffn_up/gate
  // [4096, 11008] -> 11008x4096, ffn_down [11008, 4096] -> 4096x11008. The log's vocabulary
  // (151851, and a q6_K output.weight) is not LLaMA-7B's; the LM head uses LLaMA-7B's 32000.
  static const std::vector<Shape> shapes = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {32000, 4096}};
  return shapes;
}

namespace {
std::optional<int64_t> parse_positive(std::string_view s) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}
}  // namespace

std::optional<Shape> parse_shape(std::string_view s) {
  const auto x = s.find_first_of("xX");
  if (x == std::string_view::npos) return std::nullopt;
  const auto r = parse_positive(s.substr(0, x));
  const auto c = parse_positive(s.substr(x + 1));
  if (!r || !c) return std::nullopt;
  return Shape{*r, *c};
}

}  // namespace qb::bench
