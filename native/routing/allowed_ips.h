// The allowed-IPs table: maps IP prefixes to the peer that owns them and answers "which peer owns
// this address?" by longest-prefix match, once per packet in each direction.
//
// Each address family has its own path-compressed binary trie: a node holds a masked prefix; its
// children extend it and differ in the bit right after it. A node without an owner exists only to
// branch, so it always has two children, which bounds the trie at 2n-1 nodes for n prefixes.
// Every owned node is also linked into its owner's list (in the order the owner got them), so a
// peer's prefixes are listed or dropped without walking the trie.
//
// Not synchronised: concurrent lookups are safe, but changes must be kept apart from lookups by the
// caller. The owner pointers are never dereferenced.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "routing/address_key.h"
#include "routing/prefix.h"

namespace wgvm::routing {

template <typename T>
class AllowedIps {
 public:
  AllowedIps() = default;
  AllowedIps(const AllowedIps&) = delete;
  AllowedIps& operator=(const AllowedIps&) = delete;
  AllowedIps(AllowedIps&& other) noexcept { take_from(other); }
  AllowedIps& operator=(AllowedIps&& other) noexcept {
    if (this != &other) {
      clear();
      take_from(other);
    }
    return *this;
  }
  ~AllowedIps() { clear(); }

  // Gives the prefix (host bits cleared) to owner; a prefix already in the table moves to the new
  // owner and leaves its old owner's list. Returns false, changing nothing, for a null owner or a
  // prefix that is not valid (see is_valid).
  bool insert(const Prefix& prefix, T* owner) {
    if (owner == nullptr || !is_valid(prefix)) return false;
    const unsigned cidr = prefix.cidr;
    const AddressKey key = key_of(prefix).masked(cidr);

    // Walk down through every node whose prefix contains the new one.
    Node** slot = &root(prefix.family);
    Node* parent = nullptr;
    Node* displaced = nullptr;  // the first node that does not contain the new prefix
    unsigned common = 0;
    while (Node* node = *slot) {
      common = std::min({key.common_bits(node->key), unsigned{node->cidr}, cidr});
      if (common < node->cidr) {
        displaced = node;
        break;
      }
      if (node->cidr == cidr) {
        give_to(node, owner);
        return true;
      }
      parent = node;
      slot = &node->child[key.bit(node->cidr)];
    }

    // Allocate everything before touching the trie, so that a bad_alloc leaves it unchanged.
    auto leaf_holder = std::make_unique<Node>(key, cidr, prefix.family);
    std::unique_ptr<Node> branch_holder;
    if (displaced != nullptr && common < cidr) {
      // Neither contains the other: they hang below a branch at the bits they share.
      branch_holder = std::make_unique<Node>(key.masked(common), common, prefix.family);
    }
    OwnerList& list = owners_[owner];

    Node* leaf = leaf_holder.release();
    ++node_count_;
    if (displaced == nullptr) {
      attach(slot, parent, leaf);
    } else if (branch_holder == nullptr) {
      // The new prefix contains the displaced subtree.
      attach(slot, parent, leaf);
      attach(&leaf->child[displaced->key.bit(cidr)], leaf, displaced);
    } else {
      Node* branch = branch_holder.release();
      ++node_count_;
      attach(slot, parent, branch);
      attach(&branch->child[key.bit(common)], branch, leaf);
      attach(&branch->child[displaced->key.bit(common)], branch, displaced);
    }
    leaf->owner = owner;
    append(list, leaf);
    ++prefix_count_;
    return true;
  }

  // The owner of the longest prefix containing addr (4 or 16 bytes by family), or nullptr.
  T* lookup(uint8_t family, const uint8_t* addr) const {
    if (family == kFamilyV4) return lookup_v4(addr);
    if (family == kFamilyV6) return lookup_v6(addr);
    return nullptr;
  }
  T* lookup_v4(const uint8_t addr[4]) const {
    return longest_match(root_v4_, AddressKey::from_v4(addr), 32);
  }
  T* lookup_v6(const uint8_t addr[16]) const {
    return longest_match(root_v6_, AddressKey::from_v6(addr), 128);
  }

  // Removes the prefix (host bits cleared) if, and only if, owner holds it.
  bool remove(const Prefix& prefix, T* owner) {
    if (owner == nullptr || !is_valid(prefix)) return false;
    Node* node = find_exact(prefix.family, key_of(prefix).masked(prefix.cidr), prefix.cidr);
    if (node == nullptr || node->owner != owner) return false;
    unlink(node);
    disown(node);
    return true;
  }

  // Removes every prefix of owner, in time proportional to how many it has.
  void remove_all(T* owner) {
    auto found = owners_.find(owner);
    if (found == owners_.end()) return;
    Node* node = found->second.first;
    owners_.erase(found);
    while (node != nullptr) {
      // Pruning only frees ownerless nodes, so the rest of this list stays valid.
      Node* next = node->next_of_owner;
      node->prev_of_owner = node->next_of_owner = nullptr;
      disown(node);
      node = next;
    }
  }

  // The owner's prefixes, in the order it was given them.
  std::vector<Prefix> list(T* owner) const {
    std::vector<Prefix> out;
    auto found = owners_.find(owner);
    if (found == owners_.end()) return out;
    for (const Node* node = found->second.first; node != nullptr; node = node->next_of_owner) {
      Prefix prefix;
      prefix.family = node->family;
      prefix.cidr = node->cidr;
      node->key.store(node->family == kFamilyV6, prefix.addr.data());
      out.push_back(prefix);
    }
    return out;
  }

  // Number of prefixes held.
  size_t size() const { return prefix_count_; }
  // Number of trie nodes, prefixes plus branches: at most 2 * size(); for memory accounting.
  size_t node_count() const { return node_count_; }
  // Number of owners holding at least one prefix (an owner left with none costs nothing).
  size_t owner_count() const { return owners_.size(); }

  void clear() {
    free_subtree(root_v4_);
    free_subtree(root_v6_);
    root_v4_ = root_v6_ = nullptr;
    owners_.clear();
    prefix_count_ = node_count_ = 0;
  }

 private:
  struct Node {
    Node(const AddressKey& key, unsigned cidr, uint8_t family)
        : key(key), cidr(static_cast<uint8_t>(cidr)), family(family) {}

    // Fields the lookup reads come first, to share a cache line.
    Node* child[2] = {nullptr, nullptr};  // indexed by the key's bit at position cidr
    AddressKey key;                       // masked to cidr bits
    T* owner = nullptr;                   // nullptr: a branch node
    uint8_t cidr;
    uint8_t family;
    Node* parent = nullptr;
    Node* prev_of_owner = nullptr;
    Node* next_of_owner = nullptr;
  };

  struct OwnerList {
    Node* first = nullptr;
    Node* last = nullptr;
  };

  static AddressKey key_of(const Prefix& prefix) {
    return prefix.family == kFamilyV6 ? AddressKey::from_v6(prefix.addr.data())
                                      : AddressKey::from_v4(prefix.addr.data());
  }

  Node*& root(uint8_t family) { return family == kFamilyV6 ? root_v6_ : root_v4_; }

  // The pointer that holds node: its parent's child slot or the root.
  Node*& slot_of(const Node* node) {
    if (node->parent == nullptr) return root(node->family);
    return node->parent->child[node->key.bit(node->parent->cidr)];
  }

  static void attach(Node** slot, Node* parent, Node* node) {
    *slot = node;
    node->parent = parent;
  }

  static T* longest_match(const Node* node, const AddressKey& key, unsigned width) {
    T* best = nullptr;
    while (node != nullptr && key.common_bits(node->key) >= node->cidr) {
      if (node->owner != nullptr) best = node->owner;
      if (node->cidr == width) break;  // a full-length prefix has no children
      node = node->child[key.bit(node->cidr)];
    }
    return best;
  }

  Node* find_exact(uint8_t family, const AddressKey& key, unsigned cidr) {
    Node* node = root(family);
    while (node != nullptr && node->cidr <= cidr && key.common_bits(node->key) >= node->cidr) {
      if (node->cidr == cidr) return node;
      node = node->child[key.bit(node->cidr)];
    }
    return nullptr;
  }

  void give_to(Node* node, T* owner) {
    if (node->owner == owner) return;
    OwnerList& list = owners_[owner];  // first, so that a bad_alloc changes nothing
    if (node->owner != nullptr) {
      unlink(node);
    } else {
      ++prefix_count_;  // a branch node becomes a prefix
    }
    node->owner = owner;
    append(list, node);
  }

  static void append(OwnerList& list, Node* node) {
    node->prev_of_owner = list.last;
    node->next_of_owner = nullptr;
    if (list.last != nullptr) {
      list.last->next_of_owner = node;
    } else {
      list.first = node;
    }
    list.last = node;
  }

  // Takes node out of its owner's list, and drops the list when it empties.
  void unlink(Node* node) {
    auto found = owners_.find(node->owner);
    OwnerList& list = found->second;
    if (node->prev_of_owner != nullptr) {
      node->prev_of_owner->next_of_owner = node->next_of_owner;
    } else {
      list.first = node->next_of_owner;
    }
    if (node->next_of_owner != nullptr) {
      node->next_of_owner->prev_of_owner = node->prev_of_owner;
    } else {
      list.last = node->prev_of_owner;
    }
    node->prev_of_owner = node->next_of_owner = nullptr;
    if (list.first == nullptr) owners_.erase(found);
  }

  // Clears node's owner (already unlinked from its list) and frees whatever that made useless.
  void disown(Node* node) {
    node->owner = nullptr;
    --prefix_count_;
    prune(node);
  }

  // Frees ownerless nodes with fewer than two children, walking up while that leaves the parent
  // short of a child: an ownerless node is only worth keeping as a branch.
  void prune(Node* node) {
    while (node != nullptr && node->owner == nullptr) {
      if (node->child[0] != nullptr && node->child[1] != nullptr) return;
      Node* only_child = node->child[0] != nullptr ? node->child[0] : node->child[1];
      Node* parent = node->parent;
      slot_of(node) = only_child;
      if (only_child != nullptr) only_child->parent = parent;
      delete node;
      --node_count_;
      if (only_child != nullptr) return;  // the parent keeps as many children as before
      node = parent;
    }
  }

  static void free_subtree(Node* node) {
    if (node == nullptr) return;  // depth is at most 129, so recursion is bounded
    free_subtree(node->child[0]);
    free_subtree(node->child[1]);
    delete node;
  }

  void take_from(AllowedIps& other) noexcept {
    root_v4_ = std::exchange(other.root_v4_, nullptr);
    root_v6_ = std::exchange(other.root_v6_, nullptr);
    owners_ = std::move(other.owners_);
    other.owners_.clear();
    prefix_count_ = std::exchange(other.prefix_count_, 0);
    node_count_ = std::exchange(other.node_count_, 0);
  }

  Node* root_v4_ = nullptr;
  Node* root_v6_ = nullptr;
  std::unordered_map<T*, OwnerList> owners_;
  size_t prefix_count_ = 0;
  size_t node_count_ = 0;
};

}  // namespace wgvm::routing
