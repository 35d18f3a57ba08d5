// Content hashes both sides of a session compute to check they agree: the reference image (the edge's
// proxy against the server's R) and the raw model outputs (a cloud result against a local run).
// 64-bit FNV-1a over 8-byte words (then the tail bytes): fast, deterministic, not cryptographic.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fx {
class Plan;
class SparseExecutor;
}  // namespace fx

namespace fx::net {

uint64_t hash_bytes(const void* data, size_t size, uint64_t seed = 0xcbf29ce484222325ull);

// Hash of the reference image (packed RGB24 W x H).
uint64_t hash_image(const uint8_t* rgb, int width, int height);

// Hash of every plan output's float data, in output order.
uint64_t hash_outputs(const Plan& plan, SparseExecutor& exec);
uint64_t hash_outputs(const Plan& plan, const float* const* outputs);

}  // namespace fx::net
