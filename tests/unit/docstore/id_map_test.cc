// IdMap against std::map as the model, under random inserts and erases that keep the table
// small (so probe runs wrap around its end and backward-shift deletion moves slots) and large.
#include "chorus/docstore/id_map.h"

#include <map>

#include "docstore_test_util.h"

namespace chorus::docstore {
namespace {

using test::Random;
using test::scaled;

std::map<std::string, int> contents(const IdMap<int>& m) {
  std::map<std::string, int> out;
  for (const auto& [id, v] : m) EXPECT_TRUE(out.emplace(id, v).second) << "visited twice: " << id;
  return out;
}

TEST(IdMapTest, MatchesAModelUnderRandomInsertsAndErases) {
  for (uint64_t seed = 1; seed <= scaled(40); ++seed) {
    Random rnd(seed);
    const uint64_t key_space = rnd.one_in(2) ? 24 : 3000;
    IdMap<int> m;
    std::map<std::string, int> model;
    for (int step = 0; step < 4000; ++step) {
      std::string id = "k" + std::to_string(rnd.below(key_space));
      if (rnd.below(3) != 0) {
        auto [v, fresh] = m.try_emplace(id);
        ASSERT_EQ(fresh, model.count(id) == 0) << "seed " << seed << " step " << step;
        *v = step;
        model[id] = step;
      } else {
        ASSERT_EQ(m.erase(id), model.erase(id) == 1) << "seed " << seed << " step " << step;
      }
      ASSERT_EQ(m.size(), model.size());
      // Every id the model holds is found, with its value; an erased one is not.
      for (uint64_t k = 0; k < std::min<uint64_t>(key_space, 24); ++k) {
        std::string probe = "k" + std::to_string(k);
        auto it = model.find(probe);
        const int* v = std::as_const(m).find(probe);
        ASSERT_EQ(v != nullptr, it != model.end()) << "seed " << seed << " id " << probe;
        if (v != nullptr) {
          ASSERT_EQ(*v, it->second);
        }
      }
    }
    EXPECT_EQ(contents(m), model) << "seed " << seed;
    m.clear();
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(m.find("k1"), nullptr);
  }
}

TEST(IdMapTest, ValuesStayPutWhileTheTableGrows) {
  IdMap<std::string> m;
  std::string* first = m.try_emplace("first").first;
  *first = "value";
  m.reserve(10);
  for (int i = 0; i < 10'000; ++i) m.try_emplace("id" + std::to_string(i));
  EXPECT_EQ(m.find("first"), first);
  EXPECT_EQ(*first, "value");
  EXPECT_EQ(m.size(), 10'001u);
}

}  // namespace
}  // namespace chorus::docstore
