// libFuzzer target: the allowed-IPs trie (routing/allowed_ips.h) driven by a sequence of insert,
// remove and lookup operations, each checked against a naive model (a list of prefixes searched
// linearly). Any disagreement aborts.
//
// Each operation: [op] then, for insert/remove, [family] [cidr] and the address bytes (4 or 16);
// for lookup, [family] and the address bytes. op % 4 picks insert/remove/lookup/remove_all, (op >> 2) % 5 the
// owner (4 = null, which the trie must refuse). Addresses use few distinct bytes so that prefixes
// nest and collide often.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "routing/allowed_ips.h"

using namespace wgvm::routing;

namespace {

struct Owner {
  int id;
};
Owner owners[4] = {{0}, {1}, {2}, {3}};

struct Entry {
  Prefix prefix;  // masked
  Owner* owner;
};

// The model: entries in the order each owner received them (a moved prefix goes to the end).
struct Model {
  std::vector<Entry> entries;

  bool insert(const Prefix& p, Owner* owner) {
    if (owner == nullptr || !is_valid(p)) return false;
    const Prefix m = masked(p);
    auto it = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.prefix == m; });
    if (it != entries.end()) {
      if (it->owner == owner) return true;
      entries.erase(it);
    }
    entries.push_back({m, owner});
    return true;
  }
  bool remove(const Prefix& p, Owner* owner) {
    if (owner == nullptr || !is_valid(p)) return false;
    const Prefix m = masked(p);
    auto it = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.prefix == m && e.owner == owner; });
    if (it == entries.end()) return false;
    entries.erase(it);
    return true;
  }
  void remove_all(Owner* owner) {
    std::erase_if(entries, [&](const Entry& e) { return e.owner == owner; });
  }
  Owner* lookup(uint8_t family, const uint8_t* addr) const {
    Owner* best = nullptr;
    int best_cidr = -1;
    for (const Entry& e : entries) {
      if (e.prefix.family != family || e.prefix.cidr <= best_cidr) continue;
      Prefix a{family, {}, e.prefix.cidr};
      std::copy_n(addr, family == kFamilyV4 ? 4 : 16, a.addr.begin());
      if (masked(a) == e.prefix) {
        best = e.owner;
        best_cidr = e.prefix.cidr;
      }
    }
    return best;
  }
  std::vector<Prefix> list(Owner* owner) const {
    std::vector<Prefix> out;
    for (const Entry& e : entries)
      if (e.owner == owner) out.push_back(e.prefix);
    return out;
  }
};

[[noreturn]] void mismatch(const char* what) {
  std::fprintf(stderr, "fuzz check failed: the allowed-IPs trie disagrees with the model: %s\n", what);
  std::abort();
}

// Reads bytes from the input; past its end, zeros.
struct Reader {
  const uint8_t* data;
  size_t size;
  uint8_t next() {
    if (size == 0) return 0;
    --size;
    return *data++;
  }
};

// Address bytes drawn from a small alphabet, so that prefixes share long runs of bits.
void read_address(Reader& in, uint8_t* out, size_t n) {
  static constexpr uint8_t kAlphabet[8] = {0x00, 0x0a, 0x80, 0xc0, 0xfd, 0xfe, 0xff, 0x01};
  for (size_t i = 0; i < n; ++i) {
    const uint8_t b = in.next();
    out[i] = (b & 0x80) ? b : kAlphabet[b & 7];
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  AllowedIps<Owner> trie;
  Model model;
  Reader in{data, size};
  while (in.size > 0) {
    const uint8_t op = in.next();
    const unsigned owner_pick = (op >> 2) % 5;
    Owner* owner = owner_pick < 4 ? &owners[owner_pick] : nullptr;
    switch (op % 4) {
      case 0:
      case 1: {
        const uint8_t family = in.next();
        Prefix p;
        p.family = (family & 1) ? kFamilyV6 : kFamilyV4;
        if (family == 0xff) p.family = 5;  // now and then an unknown family
        const unsigned width = address_bits(p.family) ? address_bits(p.family) : 32;
        p.cidr = static_cast<uint8_t>(in.next() % (width + 2));  // width + 1 is invalid
        read_address(in, p.addr.data(), p.family == kFamilyV6 ? 16 : 4);
        const bool got = op % 4 == 0 ? trie.insert(p, owner) : trie.remove(p, owner);
        const bool want = op % 4 == 0 ? model.insert(p, owner) : model.remove(p, owner);
        if (got != want) mismatch(op % 4 == 0 ? "insert result" : "remove result");
        break;
      }
      case 2: {
        const uint8_t family = (in.next() & 1) ? kFamilyV6 : kFamilyV4;
        uint8_t addr[16];
        read_address(in, addr, family == kFamilyV6 ? 16 : 4);
        if (trie.lookup(family, addr) != model.lookup(family, addr)) mismatch("lookup");
        break;
      }
      case 3:
        if (owner == nullptr) break;
        trie.remove_all(owner);
        model.remove_all(owner);
        break;
    }
    if (trie.size() != model.entries.size()) mismatch("size");
    if (trie.node_count() > 2 * trie.size()) mismatch("more nodes than 2 per prefix");
    size_t owners_holding = 0;
    for (Owner& o : owners) owners_holding += !model.list(&o).empty();
    if (trie.owner_count() != owners_holding) mismatch("owner count");
    for (Owner& o : owners)
      if (trie.list(&o) != model.list(&o)) mismatch("an owner's list");
  }
  // Every prefix the model holds routes its own network address to the longest match.
  for (const Entry& e : model.entries)
    if (trie.lookup(e.prefix.family, e.prefix.addr.data()) != model.lookup(e.prefix.family, e.prefix.addr.data()))
      mismatch("lookup of a held prefix");
  return 0;
}
