// Which buffer type llama.cpp would put a weight in: the first extra buffer type of the CPU device
// whose supports_op accepts mul_mat with W in it (a repacking one), or nullptr for the plain CPU
// buffer. The check needs W to sit in a buffer of that type, so it gets a zero-size (dummy) one for
// the query. Shared by ggml_mul_mat_bench.cpp and ggml_plugin.cpp.
#pragma once
#include <ggml-backend.h>
#include <ggml-cpu.h>
#include <ggml.h>

#include <cstdint>

inline ggml_backend_buffer_type_t repack_buft(ggml_backend_dev_t dev, ggml_type type, int64_t rows, int64_t cols) {
  auto* reg = ggml_backend_dev_backend_reg(dev);
  auto get_extra = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(
      ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts"));
  if (!get_extra) return nullptr;
  ggml_init_params p{4 * ggml_tensor_overhead(), nullptr, true};
  ggml_context* ctx = ggml_init(p);
  ggml_tensor* w = ggml_new_tensor_2d(ctx, type, cols, rows);
  ggml_tensor* x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, cols, 1);
  ggml_tensor* y = ggml_mul_mat(ctx, w, x);
  ggml_backend_buffer_type_t found = nullptr;
  for (auto* buft = get_extra(dev); *buft && !found; ++buft) {
    ggml_backend_buffer_t dummy = ggml_backend_buft_alloc_buffer(*buft, 0);
    w->buffer = dummy;
    if (ggml_backend_dev_supports_op(dev, y)) found = *buft;
    w->buffer = nullptr;
    ggml_backend_buffer_free(dummy);
  }
  ggml_free(ctx);
  return found;
}
