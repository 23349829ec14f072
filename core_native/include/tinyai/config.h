// Configuration mirroring the TinyAI seed structs field for field (sizes in bytes, 0 =
// unlimited), so a C API with the seed's names can wrap these without translation.
#pragma once
#include <cstddef>

namespace tinyai {

struct MemoryOptimizerConfig {
  bool enable_tensor_reuse = true;
  bool enable_in_place_ops = true;
  float memory_speed_tradeoff = 0.5f;
  size_t max_memory_budget = 0;
};

struct ProgressiveLoaderConfig {
  bool enable_prefetch = true;
  int prefetch_window = 2;
  bool enable_adaptive_window = false;
  size_t max_memory_usage = 0;
};

// Per-layer activation checkpointing (applies while scheduler.enable_checkpointing is on):
// Keep - outputs live until their last use; the planner may still recompute them when
//        recompute_activations is on. Checkpoint - outputs always kept and usable as the
//        source of a recompute, never recomputed. Recompute - outputs dropped after their
//        first use and recomputed (from live values) before their later uses.
enum class CheckpointStrategy : int { Keep = 0, Checkpoint = 1, Recompute = 2 };

struct LayerSchedulerConfig {
  bool enable_checkpointing = false;
  float memory_speed_tradeoff = 0.5f;
  bool recompute_activations = false;
  size_t max_activation_memory = 0;
};

struct CacheConfig {
  int block_size = 64;
  int cache_line_size = 64;
  bool enable_prefetch = true;
  int prefetch_distance = 8;
};

// Per op family SIMD switches (the seed's tinyaiEnableSIMD per TinyAISIMDOpType): a family
// switched off runs its scalar reference kernels whatever simd_level says.
struct SimdOpsConfig {
  bool matrix_mul = true;
  bool conv = true;
  bool activation = true;
  bool attention = true;
};

struct SessionConfig {
  MemoryOptimizerConfig memory;
  ProgressiveLoaderConfig loader;
  LayerSchedulerConfig scheduler;
  CacheConfig cache;
  int simd_level = 3;  // 0 scalar reference .. 3 widest ISA with prefetch and fusion
  SimdOpsConfig simd_ops;
  int threads = 0;  // 0 = physical cores
};

// Tradeoff table row (README): at or above this memory_speed_tradeoff, with weights resident
// (not streamed by the progressive loader), kernels keep packed copies of their constant
// weights across runs -- counted as Weight memory -- instead of repacking them every run.
constexpr float kKeepPackedWeightsTradeoff = 0.75f;
inline bool keep_packed_weights(const SessionConfig& c) {
  return c.memory.memory_speed_tradeoff >= kKeepPackedWeightsTradeoff &&
         c.loader.max_memory_usage == 0;
}

}  // namespace tinyai
