// The allowed-IPs table: prefix text, host-bit masking, ownership rules, pruning, and a randomised
// comparison against a naive longest-prefix scan.
#include <algorithm>
#include <array>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness.h"
#include "routing/allowed_ips.h"

using namespace wgvm::routing;

namespace {

struct Peer {
  int id;
};

// Parses text that the test itself wrote; an unparsable literal is a bug in the test.
Prefix prefix_from(std::string_view text) {
  auto parsed = parse_prefix(text);
  if (!parsed) throw std::runtime_error("test literal does not parse: " + std::string(text));
  return *parsed;
}

// The address bytes of a literal like "10.0.0.1" or "fd00::1".
std::array<uint8_t, 16> address_from(std::string_view text) { return prefix_from(text).addr; }

template <typename Table>
Peer* look(const Table& table, std::string_view address) {
  const Prefix p = prefix_from(address);
  return table.lookup(p.family, p.addr.data());
}

std::vector<std::string> texts(const std::vector<Prefix>& prefixes) {
  std::vector<std::string> out;
  for (const Prefix& p : prefixes) out.push_back(to_string(p));
  return out;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : " ") + part;
  return out;
}

}  // namespace

TEST(parse_prefix_accepts_wg_forms_and_prints_them_back) {
  const std::pair<const char*, const char*> cases[] = {
      {"10.0.0.0/24", "10.0.0.0/24"},
      {"10.0.0.5", "10.0.0.5/32"},
      {"10.0.0.5/24", "10.0.0.5/24"},  // parsing keeps host bits; the table clears them
      {"0.0.0.0/0", "0.0.0.0/0"},
      {"255.255.255.255/32", "255.255.255.255/32"},
      {"fd00::/64", "fd00::/64"},
      {"::/0", "::/0"},
      {"fd00::1", "fd00::1/128"},
      {"FD00:0:0:0::1/128", "fd00::1/128"},
      {"::ffff:10.1.2.3/128", "::ffff:10.1.2.3/128"},
      {"10.1.2.3/032", "10.1.2.3/32"},  // wg reads the length with strtoul: leading zeros pass
  };
  for (const auto& [input, printed] : cases) {
    auto parsed = parse_prefix(input);
    CHECK(parsed.has_value());
    if (!parsed) continue;
    CHECK_EQ(to_string(*parsed), std::string(printed));
    CHECK(parse_prefix(to_string(*parsed)) == parsed);
  }

  const Prefix v4 = prefix_from("192.168.7.9/20");
  CHECK_EQ(v4.family, kFamilyV4);
  CHECK_EQ(v4.cidr, 20);
  const std::array<uint8_t, 16> v4_bytes = {192, 168, 7, 9};
  CHECK_EQ(v4.addr, v4_bytes);
  const Prefix v6 = prefix_from("fd00::1:2/64");
  CHECK_EQ(v6.family, kFamilyV6);
  CHECK_EQ(v6.cidr, 64);
  CHECK_EQ(v6.addr[0], 0xfd);
  CHECK_EQ(v6.addr[13], 1);
  CHECK_EQ(v6.addr[15], 2);
}

TEST(parse_prefix_rejects_malformed_text) {
  const std::string_view rejects[] = {
      "",
      "/24",
      "10.0.0.0/",
      "10.0.0.0/33",
      "fd00::/129",
      "fd00::/",
      "10.0.0.256/24",
      "10.0.0/24",
      "10.0.0.0.0",
      "10.0.0.0/24/1",
      " 10.0.0.0/24",
      "10.0.0.0 /24",
      "10.0.0.0/ 24",
      "10.0.0.0/24 ",
      "10.0.0.0/24\n",
      "10.0.0.0/-1",
      "10.0.0.0/+8",
      "10.0.0.0/1a",
      "10.0.0.1/99999999999999999999",
      "fd00:::1/64",
      "gg::/64",
      "1.2.3.4:51820",
      "abc",
      std::string_view("10.0.0.1\0junk", 13),
      "1111:2222:3333:4444:5555:6666:7777:8888:9999/128",
  };
  for (const std::string_view text : rejects) {
    if (parse_prefix(text).has_value()) {
      wgvm::test::fail(__FILE__, __LINE__, "accepted malformed prefix \"" + std::string(text) + "\"");
    }
  }
}

TEST(masked_clears_host_bits_and_the_table_stores_masked_prefixes) {
  CHECK_EQ(to_string(masked(prefix_from("10.0.0.5/24"))), "10.0.0.0/24");
  CHECK_EQ(to_string(masked(prefix_from("10.255.255.255/9"))), "10.128.0.0/9");
  CHECK_EQ(to_string(masked(prefix_from("1.2.3.4/0"))), "0.0.0.0/0");
  CHECK_EQ(to_string(masked(prefix_from("1.2.3.4/32"))), "1.2.3.4/32");
  CHECK_EQ(to_string(masked(prefix_from("fd00::ffff/64"))), "fd00::/64");
  CHECK_EQ(to_string(masked(prefix_from("fd00:1234:5678:9abc:def0::1/60"))), "fd00:1234:5678:9ab0::/60");

  Peer a{1}, b{2};
  AllowedIps<Peer> table;
  CHECK(table.insert(prefix_from("10.0.0.5/24"), &a));
  CHECK_EQ(joined(texts(table.list(&a))), "10.0.0.0/24");
  CHECK_EQ(look(table, "10.0.0.77"), &a);
  CHECK(table.insert(prefix_from("fd00::ffff/64"), &a));
  CHECK_EQ(joined(texts(table.list(&a))), "10.0.0.0/24 fd00::/64");

  // The same network written with other host bits is the same prefix: it moves, it is not added.
  CHECK(table.insert(prefix_from("10.0.0.0/24"), &b));
  CHECK_EQ(table.size(), 2u);
  CHECK_EQ(joined(texts(table.list(&b))), "10.0.0.0/24");
  CHECK(table.remove(prefix_from("10.0.0.9/24"), &b));
  CHECK_EQ(table.size(), 1u);
}

TEST(lookup_handles_default_routes_and_full_length_prefixes) {
  Peer any{1}, host{2}, last{3};
  AllowedIps<Peer> table;
  table.insert(prefix_from("0.0.0.0/0"), &any);
  table.insert(prefix_from("10.0.0.1/32"), &host);
  table.insert(prefix_from("255.255.255.255/32"), &last);
  CHECK_EQ(look(table, "10.0.0.1"), &host);
  CHECK_EQ(look(table, "10.0.0.2"), &any);
  CHECK_EQ(look(table, "10.0.0.0"), &any);
  CHECK_EQ(look(table, "0.0.0.0"), &any);
  CHECK_EQ(look(table, "255.255.255.255"), &last);
  CHECK_EQ(look(table, "255.255.255.254"), &any);

  table.insert(prefix_from("::/0"), &any);
  table.insert(prefix_from("::/128"), &host);
  table.insert(prefix_from("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"), &last);
  CHECK_EQ(look(table, "::"), &host);
  CHECK_EQ(look(table, "::1"), &any);
  CHECK_EQ(look(table, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), &last);
  CHECK_EQ(look(table, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), &any);
  CHECK_EQ(look(table, "8000::"), &any);

  CHECK(table.remove(prefix_from("0.0.0.0/0"), &any));
  CHECK(table.remove(prefix_from("::/0"), &any));
  CHECK(look(table, "10.0.0.2") == nullptr);
  CHECK(look(table, "::1") == nullptr);
  CHECK_EQ(look(table, "10.0.0.1"), &host);
  CHECK_EQ(look(table, "::"), &host);
}

TEST(lookup_prefers_the_longest_matching_prefix) {
  Peer p8{8}, p16{16}, p24{24}, p25{25}, p32{32};
  AllowedIps<Peer> table;
  // Inserted out of order, so later inserts split and re-parent existing nodes.
  table.insert(prefix_from("10.1.2.3/32"), &p32);
  table.insert(prefix_from("10.1.0.0/16"), &p16);
  table.insert(prefix_from("10.0.0.0/8"), &p8);
  table.insert(prefix_from("10.1.2.128/25"), &p25);
  table.insert(prefix_from("10.1.2.0/24"), &p24);
  CHECK_EQ(look(table, "10.1.2.3"), &p32);
  CHECK_EQ(look(table, "10.1.2.4"), &p24);
  CHECK_EQ(look(table, "10.1.2.200"), &p25);
  CHECK_EQ(look(table, "10.1.9.9"), &p16);
  CHECK_EQ(look(table, "10.200.0.1"), &p8);
  CHECK(look(table, "11.1.2.3") == nullptr);

  CHECK(table.remove(prefix_from("10.1.0.0/16"), &p16));
  CHECK_EQ(look(table, "10.1.9.9"), &p8);
  CHECK_EQ(look(table, "10.1.2.9"), &p24);
  CHECK(table.remove(prefix_from("10.1.2.0/24"), &p24));
  CHECK_EQ(look(table, "10.1.2.9"), &p8);
  CHECK_EQ(look(table, "10.1.2.3"), &p32);
  CHECK_EQ(look(table, "10.1.2.129"), &p25);

  AllowedIps<Peer> v6;
  v6.insert(prefix_from("fd00::/8"), &p8);
  v6.insert(prefix_from("fd00:1::/32"), &p16);
  v6.insert(prefix_from("fd00:1:0:0:8000::/65"), &p25);
  v6.insert(prefix_from("fd00:1::7/128"), &p32);
  CHECK_EQ(look(v6, "fd00:1::7"), &p32);
  CHECK_EQ(look(v6, "fd00:1::8"), &p16);
  CHECK_EQ(look(v6, "fd00:1::8000:0:0:1"), &p25);
  CHECK_EQ(look(v6, "fd99::1"), &p8);
  CHECK(look(v6, "fe00::1") == nullptr);
}

TEST(ipv4_and_ipv6_lookups_use_separate_tries_and_invalid_input_is_refused) {
  Peer six{6}, four{4};
  AllowedIps<Peer> table;
  table.insert(prefix_from("::/0"), &six);
  CHECK(look(table, "1.2.3.4") == nullptr);
  table.insert(prefix_from("0.0.0.0/0"), &four);
  const auto zeros = address_from("::");
  CHECK_EQ(table.lookup_v6(zeros.data()), &six);
  CHECK_EQ(table.lookup_v4(zeros.data()), &four);
  CHECK(table.lookup(5, zeros.data()) == nullptr);

  Prefix bad_family = prefix_from("10.0.0.0/8");
  bad_family.family = 5;
  Prefix too_long = prefix_from("10.0.0.0/8");
  too_long.cidr = 33;
  Prefix junk_past_v4 = prefix_from("10.0.0.0/8");
  junk_past_v4.addr[4] = 1;
  CHECK(!table.insert(bad_family, &four));
  CHECK(!table.insert(too_long, &four));
  CHECK(!table.insert(junk_past_v4, &four));
  CHECK(!table.insert(prefix_from("10.0.0.0/8"), nullptr));
  CHECK(!table.remove(too_long, &four));
  CHECK_EQ(table.size(), 2u);
}

TEST(reinserting_a_prefix_moves_it_out_of_the_old_owners_list) {
  Peer a{1}, b{2};
  AllowedIps<Peer> table;
  table.insert(prefix_from("10.0.0.0/24"), &a);
  table.insert(prefix_from("10.0.1.0/24"), &a);
  table.insert(prefix_from("10.0.0.0/24"), &b);
  CHECK_EQ(table.size(), 2u);
  CHECK_EQ(table.owner_count(), 2u);
  CHECK_EQ(joined(texts(table.list(&a))), "10.0.1.0/24");
  CHECK_EQ(joined(texts(table.list(&b))), "10.0.0.0/24");
  CHECK_EQ(look(table, "10.0.0.1"), &b);
  CHECK_EQ(look(table, "10.0.1.1"), &a);

  // Giving a prefix to its current owner changes nothing, not even the list order.
  table.insert(prefix_from("10.0.2.0/24"), &b);
  table.insert(prefix_from("10.0.0.0/24"), &b);
  CHECK_EQ(joined(texts(table.list(&b))), "10.0.0.0/24 10.0.2.0/24");
  CHECK(!table.remove(prefix_from("10.0.0.0/24"), &a));

  // A prefix that moves back goes to the end of its new owner's list.
  table.insert(prefix_from("10.0.0.0/24"), &a);
  CHECK_EQ(joined(texts(table.list(&a))), "10.0.1.0/24 10.0.0.0/24");
  CHECK_EQ(joined(texts(table.list(&b))), "10.0.2.0/24");
}

TEST(remove_succeeds_only_for_the_owner_of_that_exact_prefix) {
  Peer a{1}, b{2};
  AllowedIps<Peer> table;
  table.insert(prefix_from("10.0.0.0/24"), &a);
  table.insert(prefix_from("10.0.1.0/24"), &b);  // together they need a branch node at 10.0.0.0/23
  CHECK(!table.remove(prefix_from("10.0.0.0/24"), &b));
  CHECK_EQ(look(table, "10.0.0.1"), &a);
  CHECK(!table.remove(prefix_from("10.0.0.0/23"), &a));  // the branch is not a prefix of anyone's
  CHECK(!table.remove(prefix_from("10.0.0.0/23"), nullptr));
  CHECK(!table.remove(prefix_from("10.0.0.0/25"), &a));  // inside a's prefix but not it
  CHECK(!table.remove(prefix_from("10.0.0.0/16"), &a));  // around it
  CHECK(!table.remove(prefix_from("fd00::/24"), &a));
  CHECK_EQ(table.size(), 2u);

  CHECK(table.remove(prefix_from("10.0.0.0/24"), &a));
  CHECK(!table.remove(prefix_from("10.0.0.0/24"), &a));
  CHECK(look(table, "10.0.0.1") == nullptr);
  CHECK_EQ(look(table, "10.0.1.1"), &b);
  CHECK(table.list(&a).empty());
  CHECK_EQ(table.size(), 1u);
  CHECK_EQ(table.owner_count(), 1u);
  CHECK_EQ(table.node_count(), 1u);  // the branch went with a's prefix
}

TEST(remove_all_drops_every_prefix_of_one_owner_and_nothing_else) {
  Peer a{1}, b{2}, stranger{3};
  AllowedIps<Peer> table;
  table.insert(prefix_from("10.0.0.0/8"), &b);
  table.insert(prefix_from("10.1.0.0/16"), &a);
  table.insert(prefix_from("fd00::/16"), &a);
  table.insert(prefix_from("10.1.2.0/24"), &b);
  table.insert(prefix_from("10.1.2.3/32"), &a);
  table.insert(prefix_from("fd00:1::/32"), &b);
  table.insert(prefix_from("fd00:1:2::/48"), &a);
  table.insert(prefix_from("192.168.0.0/16"), &a);

  table.remove_all(&stranger);
  CHECK_EQ(table.size(), 8u);
  CHECK_EQ(table.owner_count(), 2u);
  table.remove_all(&a);
  CHECK_EQ(table.owner_count(), 1u);
  CHECK(table.list(&a).empty());
  CHECK_EQ(table.size(), 3u);
  CHECK_EQ(joined(texts(table.list(&b))), "10.0.0.0/8 10.1.2.0/24 fd00:1::/32");
  CHECK_EQ(look(table, "10.1.9.9"), &b);
  CHECK_EQ(look(table, "10.1.2.3"), &b);
  CHECK_EQ(look(table, "fd00:1:2::1"), &b);
  CHECK(look(table, "fd00:2::1") == nullptr);
  CHECK(look(table, "192.168.1.1") == nullptr);
  CHECK(table.node_count() <= 2 * table.size());

  table.remove_all(&b);
  CHECK_EQ(table.size(), 0u);
  CHECK_EQ(table.node_count(), 0u);
  CHECK_EQ(table.owner_count(), 0u);
  CHECK(look(table, "10.1.2.3") == nullptr);
}

TEST(list_keeps_the_order_prefixes_were_given_across_families) {
  Peer a{1};
  AllowedIps<Peer> table;
  const char* given[] = {"10.9.0.0/16", "fd00::/64", "10.1.0.0/16", "0.0.0.0/0", "::/0", "10.1.2.3/32"};
  for (const char* text : given) table.insert(prefix_from(text), &a);
  CHECK_EQ(joined(texts(table.list(&a))), "10.9.0.0/16 fd00::/64 10.1.0.0/16 0.0.0.0/0 ::/0 10.1.2.3/32");
  table.remove(prefix_from("10.1.0.0/16"), &a);
  CHECK_EQ(joined(texts(table.list(&a))), "10.9.0.0/16 fd00::/64 0.0.0.0/0 ::/0 10.1.2.3/32");
}

TEST(removal_prunes_branch_nodes_so_churn_does_not_grow_the_trie) {
  std::vector<Peer> peers(50);
  AllowedIps<Peer> table;
  for (int i = 0; i < 50; ++i) {
    const std::string n = std::to_string(i);
    table.insert(prefix_from("10.100.1." + n + "/32"), &peers[i]);
    table.insert(prefix_from("fd00:100::" + n + "/128"), &peers[i]);
  }
  const size_t settled = table.node_count();
  CHECK(settled <= 2 * table.size());

  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 50; ++i) {
      const std::string n = std::to_string(i + round);
      table.insert(prefix_from("10.100." + n + ".0/24"), &peers[i]);
      table.insert(prefix_from("10.100.1." + std::to_string(100 + i) + "/32"), &peers[i]);
      table.insert(prefix_from("fd00:100:" + n + "::/48"), &peers[i]);
      table.insert(prefix_from("fd00:100::1:" + n + "/128"), &peers[i]);
    }
    CHECK(table.node_count() <= 2 * table.size());
    for (int i = 0; i < 50; ++i) {
      const std::string n = std::to_string(i + round);
      CHECK(table.remove(prefix_from("10.100." + n + ".0/24"), &peers[i]));
      CHECK(table.remove(prefix_from("10.100.1." + std::to_string(100 + i) + "/32"), &peers[i]));
      CHECK(table.remove(prefix_from("fd00:100:" + n + "::/48"), &peers[i]));
      CHECK(table.remove(prefix_from("fd00:100::1:" + n + "/128"), &peers[i]));
    }
    CHECK_EQ(table.size(), 100u);
    CHECK_EQ(table.node_count(), settled);
  }
  for (Peer& peer : peers) table.remove_all(&peer);
  CHECK_EQ(table.size(), 0u);
  CHECK_EQ(table.node_count(), 0u);
}

TEST(clear_and_move_leave_usable_tables) {
  Peer a{1};
  AllowedIps<Peer> table;
  table.insert(prefix_from("10.0.0.0/8"), &a);
  table.insert(prefix_from("fd00::/8"), &a);
  AllowedIps<Peer> moved(std::move(table));
  CHECK_EQ(moved.size(), 2u);
  CHECK_EQ(look(moved, "10.1.1.1"), &a);
  CHECK_EQ(table.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is specified empty
  CHECK(look(table, "10.1.1.1") == nullptr);
  CHECK(table.list(&a).empty());

  table = std::move(moved);
  CHECK_EQ(look(table, "fd00::1"), &a);
  table.clear();
  CHECK_EQ(table.size(), 0u);
  CHECK_EQ(table.node_count(), 0u);
  CHECK(table.list(&a).empty());
  CHECK(look(table, "fd00::1") == nullptr);
  table.insert(prefix_from("fd00::/8"), &a);
  CHECK_EQ(look(table, "fd00::1"), &a);
}

// --- randomised comparison against a naive table ------------------------------------------------

namespace {

// What the trie must agree with: a plain vector scan. Entries are kept longest first so that the
// first match is the answer (which keeps the test fast under the sanitizers).
class NaiveTable {
 public:
  void insert(const Prefix& given, Peer* owner) {
    const Prefix prefix = masked(given);
    for (Entry& e : entries_) {
      if (e.cidr == prefix.cidr && e.prefix == prefix) {  // cidr first: cheap in a Debug build
        if (e.owner != owner) e = make_entry(prefix, owner);
        return;
      }
    }
    const auto longest_first = [](const Entry& x, const Entry& y) { return x.prefix.cidr > y.prefix.cidr; };
    const Entry entry = make_entry(prefix, owner);
    entries_.insert(std::upper_bound(entries_.begin(), entries_.end(), entry, longest_first), entry);
  }

  bool remove(const Prefix& given, Peer* owner) {
    const Prefix prefix = masked(given);
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].cidr == prefix.cidr && entries_[i].prefix == prefix && entries_[i].owner == owner) {
        entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
        return true;
      }
    }
    return false;
  }

  void remove_all(Peer* owner) {
    std::erase_if(entries_, [owner](const Entry& e) { return e.owner == owner; });
  }

  // Byte by byte, deliberately unlike the trie's 64-bit arithmetic. Written out on plain arrays
  // because this loop is the test's whole cost in an unoptimised ASan build.
  Peer* lookup(uint8_t family, const uint8_t* addr) const {
    const Entry* entry = entries_.data();
    for (const Entry* end = entry + entries_.size(); entry != end; ++entry) {
      if (entry->family != family) continue;
      unsigned i = 0, bits_left = entry->cidr;
      while (bits_left >= 8 && entry->network[i] == addr[i]) {
        ++i;
        bits_left -= 8;
      }
      if (bits_left == 0) return entry->owner;
      if (bits_left < 8 && ((entry->network[i] ^ addr[i]) & (0xff00 >> bits_left) & 0xff) == 0) {
        return entry->owner;
      }
    }
    return nullptr;
  }

  std::vector<Prefix> list(Peer* owner) const {
    std::vector<const Entry*> mine;
    for (const Entry& e : entries_) {
      if (e.owner == owner) mine.push_back(&e);
    }
    std::sort(mine.begin(), mine.end(), [](const Entry* x, const Entry* y) { return x->order < y->order; });
    std::vector<Prefix> out;
    for (const Entry* e : mine) out.push_back(e->prefix);
    return out;
  }

  size_t size() const { return entries_.size(); }
  const Prefix& prefix_at(size_t i) const { return entries_[i].prefix; }
  Peer* owner_at(size_t i) const { return entries_[i].owner; }

 private:
  struct Entry {
    Prefix prefix;
    Peer* owner;
    uint64_t order;  // when this owner got it: list() order
    // The prefix again as plain bytes, for the scan.
    uint8_t family;
    uint8_t cidr;
    uint8_t network[16];
  };

  Entry make_entry(const Prefix& prefix, Peer* owner) {
    Entry e{prefix, owner, next_order_++, prefix.family, prefix.cidr, {}};
    std::copy(prefix.addr.begin(), prefix.addr.end(), e.network);
    return e;
  }

  std::vector<Entry> entries_;
  uint64_t next_order_ = 0;
};

// Addresses gathered around a few cluster centres, so that random prefixes nest, overlap and
// repeat instead of scattering over an address space where they would never meet.
class AddressSource {
 public:
  AddressSource(uint8_t family, uint64_t seed) : family_(family), bits_(address_bits(family)), rng_(seed) {
    for (auto& centre : centres_) centre = random_bits_from(centre, 0);
  }

  uint64_t below(uint64_t n) { return rng_() % n; }

  // Mostly near a centre (sharing a random number of leading bits with it), sometimes anywhere.
  std::array<uint8_t, 16> address() {
    if (below(10) == 0) return random_bits_from({}, 0);
    const auto& centre = centres_[below(centres_.size())];
    return random_bits_from(centre, static_cast<unsigned>(below(bits_ + 1)));
  }

  Prefix prefix() {
    Prefix p;
    p.family = family_;
    p.addr = address();  // host bits left in: the table must clear them
    // Mostly the longer three quarters of lengths; wide prefixes are rare, or they would cover
    // every lookup and leave the no-match answers untested. (The caller adds a default route.)
    const unsigned wide = bits_ / 4;
    if (below(1000) < 8) {
      p.cidr = static_cast<uint8_t>(1 + below(wide));
    } else {
      p.cidr = static_cast<uint8_t>(wide + below(bits_ - wide + 1));
    }
    return p;
  }

 private:
  // A copy of base whose bits from position `keep` on are random (only within the family's width).
  std::array<uint8_t, 16> random_bits_from(std::array<uint8_t, 16> base, unsigned keep) {
    uint64_t random = 0;
    for (unsigned i = 0; i < bits_ / 8; ++i) {
      if (i % 8 == 0) random = rng_();
      const unsigned kept_here = keep <= 8 * i ? 0 : std::min(8u, keep - 8 * i);
      const uint8_t kept_mask = static_cast<uint8_t>(0xff00 >> kept_here);
      base[i] = static_cast<uint8_t>((base[i] & kept_mask) | (random & ~kept_mask));
      random >>= 8;
    }
    return base;
  }

  uint8_t family_;
  unsigned bits_;
  std::mt19937_64 rng_;
  std::array<std::array<uint8_t, 16>, 6> centres_{};
};

// Random inserts (including moves between owners), removes by the right and the wrong owner, and
// remove_all, checked against NaiveTable every so often: lookups, sizes, every owner's list, and
// the node bound that shows pruning kept up.
void compare_with_naive_table(uint8_t family, uint64_t seed) {
  AddressSource source(family, seed);
  std::vector<Peer> peers(40);
  for (size_t i = 0; i < peers.size(); ++i) peers[i].id = static_cast<int>(i);
  auto random_peer = [&] { return &peers[source.below(peers.size())]; };

  AllowedIps<Peer> table;
  NaiveTable naive;
  size_t lookups_checked = 0, mismatches = 0;
  std::string first_mismatch;

  auto check_everything = [&](int lookups) {
    for (int i = 0; i < lookups; ++i) {
      const auto addr = source.address();
      Peer* got = table.lookup(family, addr.data());
      Peer* want = naive.lookup(family, addr.data());
      ++lookups_checked;
      if (got != want && mismatches++ == 0) {
        Prefix host{family, addr, address_bits(family)};
        first_mismatch = to_string(host) + " → peer " + (got ? std::to_string(got->id) : "none") +
                         ", naive says " + (want ? std::to_string(want->id) : "none");
      }
    }
    CHECK_EQ(table.size(), naive.size());
    CHECK(table.node_count() <= 2 * table.size());
    size_t owners_with_prefixes = 0;
    for (Peer& peer : peers) {
      const std::vector<Prefix> want = naive.list(&peer);
      CHECK_EQ(joined(texts(table.list(&peer))), joined(texts(want)));
      owners_with_prefixes += want.empty() ? 0 : 1;
    }
    CHECK_EQ(table.owner_count(), owners_with_prefixes);
  };

  for (int step = 1; step <= 5000; ++step) {
    const uint64_t dice = source.below(1000);
    if (step == 1500 || step == 3000) {
      // A default route for a while, into a full trie, and then its owner goes away entirely.
      Peer* owner = &peers[0];
      if (step == 1500) {
        Prefix default_route{family, {}, 0};
        table.insert(default_route, owner);
        naive.insert(default_route, owner);
      } else {
        table.remove_all(owner);
        naive.remove_all(owner);
      }
    } else if (dice < 750) {
      const Prefix p = source.prefix();
      Peer* owner = random_peer();
      CHECK(table.insert(p, owner));
      naive.insert(p, owner);
    } else if (dice < 870 && naive.size() > 0) {
      // An existing prefix, by its owner or (a third of the time) by someone else.
      const size_t i = source.below(naive.size());
      const Prefix p = naive.prefix_at(i);
      Peer* owner = source.below(3) == 0 ? random_peer() : naive.owner_at(i);
      const bool naive_removed = naive.remove(p, owner);
      CHECK_EQ(table.remove(p, owner), naive_removed);
    } else if (dice < 995) {
      const Prefix p = source.prefix();  // almost never present
      Peer* owner = random_peer();
      const bool naive_removed = naive.remove(p, owner);
      CHECK_EQ(table.remove(p, owner), naive_removed);
    } else {
      Peer* owner = random_peer();
      table.remove_all(owner);
      naive.remove_all(owner);
    }
    if (step % 500 == 0) check_everything(1000);
  }
  check_everything(10000);

  // Emptying the table by owners must free every node.
  for (Peer& peer : peers) table.remove_all(&peer);
  CHECK_EQ(table.size(), 0u);
  CHECK_EQ(table.node_count(), 0u);
  CHECK_EQ(table.owner_count(), 0u);

  if (mismatches != 0) {
    wgvm::test::fail(__FILE__, __LINE__,
                     std::to_string(mismatches) + " of " + std::to_string(lookups_checked) +
                         " lookups disagree with the naive table; first: " + first_mismatch);
  }
}

}  // namespace

TEST(ipv4_lookups_match_a_naive_scan_under_random_inserts_and_removes) {
  compare_with_naive_table(kFamilyV4, 0x5eed'0004);
}

TEST(ipv6_lookups_match_a_naive_scan_under_random_inserts_and_removes) {
  compare_with_naive_table(kFamilyV6, 0x5eed'0006);
}
