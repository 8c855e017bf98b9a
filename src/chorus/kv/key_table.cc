#include "chorus/kv/key_table.h"

#include "chorus/base/assert.h"
#include "chorus/base/checksum.h"

namespace chorus::kv {

uint64_t key_hash(std::string_view key) { return checksum64(key); }

KeyTable::KeyTable() : buckets_(size_t{1} << kMinBits, nullptr) {}

KeyTable::~KeyTable() { clear(); }

Node* KeyTable::find(std::string_view key, uint64_t hash) const {
  for (Node* n = buckets_[bucket_of(hash)]; n != nullptr; n = n->next) {
    if (n->hash > hash) return nullptr;  // sorted chain: it would have been here
    if (n->hash == hash && n->key == key) return n;
  }
  return nullptr;
}

void KeyTable::insert(std::unique_ptr<Node> node) {
  CHORUS_ASSERT(node->hash == key_hash(node->key), "stale hash for key");
  Node** link = &buckets_[bucket_of(node->hash)];
  while (*link != nullptr && node_less((*link)->hash, (*link)->key, node->hash, node->key)) {
    link = &(*link)->next;
  }
  CHORUS_ASSERT(*link == nullptr || (*link)->hash != node->hash || (*link)->key != node->key,
                "duplicate key");
  node->next = *link;
  *link = node.release();
  ++size_;
  if (size_ > buckets_.size()) resize(bits_ + 1);
}

std::unique_ptr<Node> KeyTable::remove(Node* node) {
  Node** link = &buckets_[bucket_of(node->hash)];
  while (*link != node) {
    CHORUS_ASSERT(*link != nullptr, "removing a node that is not in the table");
    link = &(*link)->next;
  }
  *link = node->next;
  node->next = nullptr;
  --size_;
  if (bits_ > kMinBits && size_ < buckets_.size() / 8) resize(bits_ - 1);
  return std::unique_ptr<Node>(node);
}

void KeyTable::clear() {
  for (Node*& head : buckets_) {
    while (head != nullptr) {
      Node* n = head;
      head = n->next;
      delete n;
    }
  }
  size_ = 0;
  if (bits_ != kMinBits) {
    bits_ = kMinBits;
    buckets_.assign(size_t{1} << kMinBits, nullptr);
    buckets_.shrink_to_fit();
  }
}

Node* KeyTable::first_from_bucket(size_t b) const {
  for (; b < buckets_.size(); ++b) {
    if (buckets_[b] != nullptr) return buckets_[b];
  }
  return nullptr;
}

Node* KeyTable::lower_bound(uint64_t hash) const {
  const size_t b = bucket_of(hash);
  for (Node* n = buckets_[b]; n != nullptr; n = n->next) {
    if (n->hash >= hash) return n;
  }
  return first_from_bucket(b + 1);
}

Node* KeyTable::next(const Node* n) const {
  if (n->next != nullptr) return n->next;
  return first_from_bucket(bucket_of(n->hash) + 1);
}

// Growing by one bit splits bucket b into 2b and 2b+1; shrinking merges them back. Either way
// the nodes are taken in (hash, key) order and appended in that order, so chains stay sorted.
void KeyTable::resize(int bits) {
  CHORUS_ASSERT(bits >= kMinBits && bits < 64);
  std::vector<Node*> old = std::move(buckets_);
  buckets_.assign(size_t{1} << bits, nullptr);
  bits_ = bits;
  std::vector<Node**> tails(buckets_.size());
  for (size_t b = 0; b < buckets_.size(); ++b) tails[b] = &buckets_[b];
  for (Node* head : old) {
    while (head != nullptr) {
      Node* n = head;
      head = n->next;
      n->next = nullptr;
      const size_t b = bucket_of(n->hash);
      *tails[b] = n;
      tails[b] = &n->next;
    }
  }
}

void KeyTable::check_invariants() const {
  CHORUS_ASSERT(buckets_.size() == (size_t{1} << bits_));
  size_t count = 0;
  const Node* prev = nullptr;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    for (const Node* n = buckets_[b]; n != nullptr; n = n->next) {
      CHORUS_ASSERT(bucket_of(n->hash) == b, "node in the wrong bucket");
      CHORUS_ASSERT(n->hash == key_hash(n->key), "stale hash");
      CHORUS_ASSERT(prev == nullptr || node_less(prev->hash, prev->key, n->hash, n->key),
                    "keys out of (hash, key) order");
      prev = n;
      ++count;
    }
  }
  CHORUS_ASSERT(count == size_, "size ", size_, " but ", count, " nodes");
  CHORUS_ASSERT(size_ <= buckets_.size(), "load factor above 1");
}

}  // namespace chorus::kv
