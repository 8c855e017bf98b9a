// log_demo: append, batch, transaction, reopen, iterate — chorus::log in one page.
#include <cstdio>
#include <string>

#include "chorus/log/log.h"

using namespace chorus;

static int fail(const Status& s) {
  std::fprintf(stderr, "log_demo: %s\n", s.ToString().c_str());
  return 1;
}

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "./data/log-demo";
  if (Status s = log::Log::destroy(dir); !s.ok()) return fail(s);
  {
    auto log = log::Log::open(dir, {.durability = log::Durability::kAlways});
    if (!log.ok()) return fail(log.status());
    auto& l = **log;
    auto i = l.append(as_bytes("hello"));
    if (!i.ok()) return fail(i.status());
    std::printf("append -> %llu (durable before it returned)\n", (unsigned long long)i->value());
    std::vector<Bytes> batch{to_bytes("a"), to_bytes("b"), to_bytes("c")};
    auto last = l.append_batch(batch);
    if (!last.ok()) return fail(last.status());
    std::printf("append_batch of 3 -> last %llu (one fdatasync)\n",
                (unsigned long long)last->value());
    auto txn = l.begin();
    txn.append(as_bytes("x"));
    txn.append(as_bytes("y"));
    auto t = txn.commit();
    if (!t.ok()) return fail(t.status());
    std::printf("txn of 2 committed -> last %llu\n", (unsigned long long)t->value());
    auto aborted = l.begin();
    aborted.append(as_bytes("never"));
    aborted.abort();
    if (Status s = l.close(); !s.ok()) return fail(s);
  }
  auto log = log::Log::open(dir);
  if (!log.ok()) return fail(log.status());
  auto& l = **log;
  std::printf("reopened: indexes [%llu, %llu], closed cleanly: %s\n",
              (unsigned long long)l.first_index().value(),
              (unsigned long long)l.last_index().value(),
              l.recovery().clean_shutdown ? "yes" : "no");
  for (auto it = l.iterate(l.first_index(), l.last_index()); it.next();) {
    std::printf("  %llu: %.*s\n", (unsigned long long)it.index().value(), (int)it.data().size(),
                reinterpret_cast<const char*>(it.data().data()));
  }
  if (l.last_index().value() != 6) return fail(Status::Corruption("expected 6 records"));
  return 0;
}
