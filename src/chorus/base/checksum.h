// Checksums for every on-disk and on-wire format: XXH3-64 (libxxhash).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace chorus {

uint64_t checksum64(std::span<const std::byte> data);
uint64_t checksum64(std::string_view data);
// XXH3-64 with a seed: the same bytes checksum differently under different seeds (chorus::log
// salts each segment's records with its sequence number, so a reused file's old records fail).
uint64_t checksum64(std::span<const std::byte> data, uint64_t seed);

// Incremental XXH3-64 for data that arrives in pieces; equals checksum64 of the concatenation.
class Checksummer {
 public:
  Checksummer();
  ~Checksummer();
  Checksummer(const Checksummer&) = delete;
  Checksummer& operator=(const Checksummer&) = delete;
  void update(std::span<const std::byte> data);
  uint64_t digest() const;

 private:
  void* state_;
};

}  // namespace chorus
