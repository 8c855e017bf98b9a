// The command table: lookup, arity, key positions, and the errors check() gives.
#include "chorus/kv/command_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace chorus::kv {
namespace {

TEST(CommandTable, SortedUniqueAndLowercase) {
  auto all = all_commands();
  ASSERT_EQ(all.size() + 1, kCommandCount);  // + the internal expire command
  std::set<std::string_view> names;
  for (size_t i = 0; i < all.size(); ++i) {
    const CommandSpec& c = all[i];
    EXPECT_EQ(static_cast<size_t>(c.id), i) << c.name;
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_TRUE(std::all_of(c.name.begin(), c.name.end(), [](char ch) {
      return ch >= 'a' && ch <= 'z';
    })) << c.name;
    // Exactly one of write / readonly, and never internal.
    EXPECT_NE((c.flags & kFlagWrite) != 0, (c.flags & kFlagReadonly) != 0) << c.name;
    EXPECT_EQ(c.flags & kFlagInternal, 0u) << c.name;
    EXPECT_FALSE(c.summary.empty()) << c.name;
    EXPECT_NE(c.arity, 0) << c.name;
    if (c.first_key == 0) {
      EXPECT_EQ(c.last_key, 0) << c.name;
    } else {
      EXPECT_GE(c.key_step, 1) << c.name;
    }
  }
  EXPECT_TRUE(
      std::is_sorted(all.begin(), all.end(),
                     [](const CommandSpec& a, const CommandSpec& b) { return a.name < b.name; }));
}

TEST(CommandTable, FindsAnyCaseButNotInternal) {
  ASSERT_NE(find_command("get"), nullptr);
  EXPECT_EQ(find_command("GeT"), find_command("get"));
  EXPECT_EQ(find_command("INCRBYFLOAT")->id, CommandId::kIncrbyfloat);
  EXPECT_EQ(find_command("ge"), nullptr);
  EXPECT_EQ(find_command("gett"), nullptr);
  EXPECT_EQ(find_command(""), nullptr);
  EXPECT_EQ(find_command("multi"), nullptr);
  EXPECT_EQ(find_command("PING")->id, CommandId::kPing);  // queued inside MULTI (Redis does)
  EXPECT_EQ(find_command(kExpireCommandName), nullptr);
  ASSERT_NE(find_any_command("__CHORUS_EXPIRE"), nullptr);
  EXPECT_EQ(find_any_command("__chorus_expire")->id, CommandId::kChorusExpire);
  EXPECT_EQ(find_any_command("get"), find_command("get"));
  // Every public command is found by its own name.
  for (const CommandSpec& c : all_commands()) EXPECT_EQ(find_command(c.name), &c);
}

TEST(CommandTable, Arity) {
  const CommandSpec& get = *find_command("get");
  EXPECT_TRUE(arity_ok(get, 2));
  EXPECT_FALSE(arity_ok(get, 1));
  EXPECT_FALSE(arity_ok(get, 3));
  const CommandSpec& set = *find_command("set");
  EXPECT_FALSE(arity_ok(set, 2));
  EXPECT_TRUE(arity_ok(set, 3));
  EXPECT_TRUE(arity_ok(set, 9));
}

TEST(CommandTable, KeyPositions) {
  EXPECT_EQ(key_positions(*find_command("get"), 2), (std::vector<size_t>{1}));
  EXPECT_EQ(key_positions(*find_command("mset"), 7), (std::vector<size_t>{1, 3, 5}));
  EXPECT_EQ(key_positions(*find_command("del"), 4), (std::vector<size_t>{1, 2, 3}));
  EXPECT_EQ(key_positions(*find_command("rename"), 3), (std::vector<size_t>{1, 2}));
  EXPECT_EQ(key_positions(*find_command("set"), 5), (std::vector<size_t>{1}));
  EXPECT_TRUE(key_positions(*find_command("scan"), 4).empty());
}

TEST(CommandTable, CheckGivesRedisErrors) {
  EXPECT_EQ(check({"GET", "k"}), std::nullopt);
  EXPECT_EQ(check({"get"})->str, "ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(check({"SETEX", "k", "1"})->str, "ERR wrong number of arguments for 'setex' command");
  EXPECT_EQ(check({"foo", "a", "b"})->str,
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
  EXPECT_EQ(check({"Foo"})->str, "ERR unknown command 'Foo', with args beginning with: ");
  EXPECT_EQ(check({})->str, "ERR unknown command '', with args beginning with: ");
  EXPECT_EQ(check({"x\r\ny", "a\nb"})->str,
            "ERR unknown command 'x  y', with args beginning with: 'a b' ");
  EXPECT_TRUE(check({"__chorus_expire", "k"})->is_error());
  // Only the first 128 bytes of the name are quoted.
  EXPECT_EQ(check({std::string(200, 'n')})->str,
            "ERR unknown command '" + std::string(128, 'n') + "', with args beginning with: ");
}

TEST(CommandTable, IsWrite) {
  EXPECT_TRUE(is_write({"SET", "k", "v"}));
  EXPECT_TRUE(is_write({"getex", "k"}));
  EXPECT_TRUE(is_write({"FLUSHALL"}));
  EXPECT_FALSE(is_write({"GET", "k"}));
  EXPECT_FALSE(is_write({"SCAN", "0"}));
  EXPECT_FALSE(is_write({"nosuch"}));
  EXPECT_FALSE(is_write({}));
  EXPECT_FALSE(is_write({"__chorus_expire", "k"}));
}

TEST(CommandTable, FlagNames) {
  EXPECT_EQ(flag_names(find_command("set")->flags),
            (std::vector<std::string_view>{"write", "denyoom"}));
  EXPECT_EQ(flag_names(find_command("get")->flags),
            (std::vector<std::string_view>{"readonly", "fast"}));
}

}  // namespace
}  // namespace chorus::kv
