"""Every command chorusd supports, as scripts of (command, expected reply) steps that any client
driver runs on one connection (clients.py). Expectations follow Redis 7.0 (src/t_string.c,
src/expire.c, src/db.c, src/multi.c, src/networking.c), except where docs/semantics.md says
chorus differs; those places say so.

A session is (name, steps). A step is one of:
    (args, expected)   run the command; args may hold callables of the run context (ctx)
    Do(fn)             fn(ctx) between two commands (e.g. write through another node)
    ReadBack(key, v)   GET key through every OTHER node (linearizable) must give v
    Quit()             QUIT, then the connection must be closed (skipped for redis-cli, which
                       answers QUIT itself)
    Save(name, exp)    an expectation that also stores the reply in ctx.saved[name]
"""

import time

from clients import Contains, Err, Map, Pred, Range, Unordered


class Do:
    def __init__(self, fn, what=""):
        self.fn = fn
        self.what = what


class ReadBack:
    def __init__(self, key, value):
        self.key = key
        self.value = value


class Quit:
    pass


class Save:
    def __init__(self, name, expected):
        self.name = name
        self.expected = expected


def is_int_string(v):
    return isinstance(v, str) and v.lstrip("-").isdigit()


def history_of(*events):
    """A HISTORY reply: [[revision, event, value], ...] newest first, revisions decreasing."""
    def ok(v):
        if not isinstance(v, list) or len(v) != len(events):
            return False
        revs = [e[0] for e in v]
        return all(isinstance(r, int) and r > 0 for r in revs) and \
            revs == sorted(revs, reverse=True) and len(set(revs)) == len(revs) and \
            [[e[1], e[2]] for e in v] == [list(x) for x in events]
    return Pred(ok, "history %r" % (events,))


def command_info_entry(name, arity, flags, first, last, step):
    def ok(v):
        return isinstance(v, list) and len(v) >= 6 and v[0] == name and v[1] == arity and \
            sorted(v[2]) == sorted(flags) and v[3:6] == [first, last, step]
    return Pred(ok, "COMMAND INFO entry %r" % ([name, arity, flags, first, last, step],))


def sessions(p, resp, now_s=None):
    """The sessions for a client whose keys start with prefix p; resp is its protocol."""
    now_s = int(now_s if now_s is not None else time.time())
    at_s = now_s + 100          # an EXAT in 100 s
    at_ms = at_s * 1000 + 123   # a PXAT in ~100 s; EXPIRETIME rounds it to at_s
    at_ms_up = at_s * 1000 + 700  # EXPIRETIME rounds this one up, as Redis does ((ms+500)/1000)

    def wrong_args(name):
        return Err("ERR wrong number of arguments for '%s' command" % name)

    not_int = Err("ERR value is not an integer or out of range")
    syntax = Err("ERR syntax error")

    out = []

    # -- the whole keyspace (runs first: FLUSHALL would drop what the other sessions wrote) -----
    out.append(("keyspace", [
        (["FLUSHALL"], "OK"),
        (["DBSIZE"], 0),
        (["RANDOMKEY"], None),
        (["KEYS", "*"], []),
        (["SCAN", "0"], ["0", []]),
        (["MSET", p + "a", "1", p + "b", "2", p + "c", "3"], "OK"),
        (["DBSIZE"], 3),
        (["KEYS", "*"], Unordered([p + "a", p + "b", p + "c"])),
        (["KEYS", p + "[ab]"], Unordered([p + "a", p + "b"])),
        (["KEYS", p + "?"], Unordered([p + "a", p + "b", p + "c"])),
        (["KEYS", "nomatch*"], []),
        (["RANDOMKEY"], Pred(lambda v: v in (p + "a", p + "b", p + "c"), "one of the keys")),
        (["SCAN", "0", "COUNT", "1000"], Pred(
            lambda v: v[0] == "0" and sorted(v[1]) == [p + "a", p + "b", p + "c"],
            "cursor 0 and the three keys")),
        (["SCAN", "0", "MATCH", p + "b", "COUNT", "1000"], ["0", [p + "b"]]),
        (["SCAN", "0", "TYPE", "string", "COUNT", "1000"],
         Pred(lambda v: v[0] == "0" and len(v[1]) == 3, "the three string keys")),
        (["SCAN", "0", "TYPE", "list", "COUNT", "1000"], ["0", []]),
        (["SCAN", "notanumber"], Err("ERR invalid cursor")),
        (["SCAN", "0", "COUNT", "0"], syntax),
        (["FLUSHDB"], "OK"),
        (["DBSIZE"], 0),
        (["SET", p + "a", "1"], "OK"),
        (["FLUSHDB", "ASYNC"], "OK"),
        (["EXISTS", p + "a"], 0),
        (["FLUSHALL", "SYNC"], "OK"),
        (["FLUSHDB", "BLAH"], syntax),
        (["DBSIZE", "extra"], wrong_args("dbsize")),
    ]))

    # -- strings --------------------------------------------------------------------------------
    k = p + "k"
    out.append(("set-options", [
        (["SET", k, "v"], "OK"),
        ReadBack(k, "v"),
        (["GET", k], "v"),
        (["SET", k, "v2", "NX"], None),
        (["SET", k, "v3", "XX"], "OK"),
        (["SET", p + "new", "v", "XX"], None),
        (["EXISTS", p + "new"], 0),
        (["SET", k, "v4", "GET"], "v3"),
        (["SET", p + "new2", "x", "NX", "GET"], None),
        (["GET", p + "new2"], "x"),
        (["SET", p + "new2", "y", "NX", "GET"], "x"),
        (["GET", p + "new2"], "x"),
        (["SET", k, "v5", "EX", "100"], "OK"),
        (["TTL", k], Range(90, 100)),
        (["SET", k, "v6", "PX", "100000"], "OK"),
        (["PTTL", k], Range(90000, 100000)),
        (["SET", k, "v7", "EXAT", str(at_s)], "OK"),
        (["EXPIRETIME", k], at_s),
        (["SET", k, "v8", "PXAT", str(at_ms)], "OK"),
        (["PEXPIRETIME", k], at_ms),
        (["SET", k, "v9", "KEEPTTL"], "OK"),
        (["PEXPIRETIME", k], at_ms),
        ReadBack(k, "v9"),
        (["SET", k, "v10"], "OK"),
        (["TTL", k], -1),
        (["SET", k, "v", "EX", "0"], Err("ERR invalid expire time in 'set' command")),
        (["SET", k, "v", "PX", "-5"], Err("ERR invalid expire time in 'set' command")),
        (["SET", k, "v", "EX", "abc"], not_int),
        (["SET", k, "v", "NX", "XX"], syntax),
        (["SET", k, "v", "KEEPTTL", "EX", "10"], syntax),
        (["SET", k, "v", "EX", "10", "PX", "100"], syntax),
        (["SET", k, "v", "EX"], syntax),
        (["SET", k, "v", "BOGUS"], syntax),
        (["GET", k], "v10"),
        (["SET", k], wrong_args("set")),
        (["GET"], wrong_args("get")),
        (["GET", p + "missing"], None),
        (["set", k, "lower"], "OK"),
        (["gEt", k], "lower"),
        (["SET", p + "bin", "a\x00\xff\r\nb \"q\""], "OK"),
        (["GET", p + "bin"], "a\x00\xff\r\nb \"q\""),
        ReadBack(p + "bin", "a\x00\xff\r\nb \"q\""),
        (["SET", p + "empty", ""], "OK"),
        (["GET", p + "empty"], ""),
        (["STRLEN", p + "empty"], 0),
        (["FOO", "bar"], Err("ERR unknown command 'FOO', with args beginning with: 'bar' ")),
    ]))

    out.append(("set-variants", [
        (["SETNX", p + "nx", "a"], 1),
        (["SETNX", p + "nx", "b"], 0),
        (["GET", p + "nx"], "a"),
        (["SETEX", p + "ex", "100", "val"], "OK"),
        (["TTL", p + "ex"], Range(90, 100)),
        (["GET", p + "ex"], "val"),
        (["SETEX", p + "ex", "0", "v"], Err("ERR invalid expire time in 'setex' command")),
        (["SETEX", p + "ex", "x", "v"], not_int),
        (["PSETEX", p + "pex", "100000", "val"], "OK"),
        (["PTTL", p + "pex"], Range(90000, 100000)),
        (["PSETEX", p + "pex", "0", "v"], Err("ERR invalid expire time in 'psetex' command")),
        (["GETSET", p + "gs", "a"], None),
        (["GETSET", p + "gs", "b"], "a"),
        (["SET", p + "gs2", "a", "EX", "100"], "OK"),
        (["GETSET", p + "gs2", "b"], "a"),
        (["TTL", p + "gs2"], -1),  # GETSET clears the time to live, as SET does
        (["GETDEL", p + "gs"], "b"),
        (["GETDEL", p + "gs"], None),
        (["EXISTS", p + "gs"], 0),
        (["SET", p + "gx", "v"], "OK"),
        (["GETEX", p + "gx"], "v"),
        (["TTL", p + "gx"], -1),
        (["GETEX", p + "gx", "EX", "100"], "v"),
        (["TTL", p + "gx"], Range(90, 100)),
        (["GETEX", p + "gx", "PERSIST"], "v"),
        (["TTL", p + "gx"], -1),
        (["GETEX", p + "gx", "PX", "100000"], "v"),
        (["PTTL", p + "gx"], Range(90000, 100000)),
        (["GETEX", p + "gx", "EXAT", str(at_s)], "v"),
        (["EXPIRETIME", p + "gx"], at_s),
        (["GETEX", p + "gx", "PXAT", str(at_ms)], "v"),
        (["PEXPIRETIME", p + "gx"], at_ms),
        (["GETEX", p + "gx", "EX", "10", "PERSIST"], syntax),
        (["GETEX", p + "gx", "EX", "0"], Err("ERR invalid expire time in 'getex' command")),
        (["GETEX", p + "nokey", "EX", "10"], None),
        (["GETEX", p + "gx", "PXAT", "1"], "v"),  # a time in the past deletes the key
        (["EXISTS", p + "gx"], 0),
        (["MSET", p + "m1", "a", p + "m2", "b"], "OK"),
        ReadBack(p + "m2", "b"),
        (["MGET", p + "m1", p + "m2", p + "m3"], ["a", "b", None]),
        (["MSET", p + "m1"], wrong_args("mset")),
        (["MSET", p + "m1", "a", p + "m2"], wrong_args("mset")),
        (["MSETNX", p + "m3", "c", p + "m4", "d"], 1),
        (["MSETNX", p + "m4", "x", p + "m5", "y"], 0),
        (["MGET", p + "m4", p + "m5"], ["d", None]),
        (["MGET"], wrong_args("mget")),
    ]))

    out.append(("string-ops", [
        (["APPEND", p + "ap", "hello"], 5),
        (["APPEND", p + "ap", " world"], 11),
        (["GET", p + "ap"], "hello world"),
        ReadBack(p + "ap", "hello world"),
        (["STRLEN", p + "ap"], 11),
        (["STRLEN", p + "nokey"], 0),
        (["GETRANGE", p + "ap", "0", "4"], "hello"),
        (["GETRANGE", p + "ap", "-5", "-1"], "world"),
        (["GETRANGE", p + "ap", "5", "2"], ""),
        (["GETRANGE", p + "ap", "0", "100"], "hello world"),
        (["GETRANGE", p + "nokey", "0", "-1"], ""),
        (["GETRANGE", p + "ap", "a", "1"], not_int),
        (["SUBSTR", p + "ap", "0", "4"], "hello"),
        (["SETRANGE", p + "ap", "6", "W"], 11),
        (["GET", p + "ap"], "hello World"),
        (["SETRANGE", p + "sr", "3", "x"], 4),
        (["GET", p + "sr"], "\x00\x00\x00x"),
        (["SETRANGE", p + "ap", "-1", "x"], Err("ERR offset is out of range")),
        (["SETRANGE", p + "ap", str(512 * 1024 * 1024), "x"],
         Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")),
        (["SETRANGE", p + "nokey", "5", ""], 0),
        (["EXISTS", p + "nokey"], 0),
        (["INCR", p + "n"], 1),
        (["INCRBY", p + "n", "10"], 11),
        (["DECR", p + "n"], 10),
        (["DECRBY", p + "n", "3"], 7),
        (["INCRBY", p + "n", "-8"], -1),
        ReadBack(p + "n", "-1"),
        (["GET", p + "n"], "-1"),
        (["INCR", p + "ap"], not_int),
        (["INCRBY", p + "n", "abc"], not_int),
        (["SET", p + "max", "9223372036854775807"], "OK"),
        (["INCR", p + "max"], Err("ERR increment or decrement would overflow")),
        (["SET", p + "sp", " 1"], "OK"),
        (["INCR", p + "sp"], not_int),
        (["INCRBYFLOAT", p + "f", "10.5"], "10.5"),
        (["INCRBYFLOAT", p + "f", "0.1"], "10.6"),
        (["INCRBYFLOAT", p + "f", "-5"], "5.6"),
        (["GET", p + "f"], "5.6"),
        (["SET", p + "f2", "5.0e3"], "OK"),
        (["INCRBYFLOAT", p + "f2", "2.0e2"], "5200"),
        (["SET", p + "fi", "3"], "OK"),
        (["INCRBYFLOAT", p + "fi", "1.5"], "4.5"),
        (["INCRBYFLOAT", p + "ap", "1"], Err("ERR value is not a valid float")),
        (["INCRBYFLOAT", p + "f", "abc"], Err("ERR value is not a valid float")),
        (["INCRBYFLOAT", p + "f", "inf"], Err("ERR increment would produce NaN or Infinity")),
        (["INCR"], wrong_args("incr")),
        (["SET", p + "f3", "3.0e3"], "OK"),
        (["INCRBYFLOAT", p + "f3", "0"], "3000"),
        # Changing a value in place keeps its time to live; replacing it clears it.
        (["SET", p + "keep", "1", "EX", "100"], "OK"),
        (["INCR", p + "keep"], 2),
        (["APPEND", p + "keep", "0"], 2),
        (["SETRANGE", p + "keep", "0", "3"], 2),
        (["INCRBYFLOAT", p + "keep", "1"], "31"),
        (["TTL", p + "keep"], Range(90, 100)),
        (["MSET", p + "keep", "x"], "OK"),
        (["TTL", p + "keep"], -1),
    ]))

    # -- keys -----------------------------------------------------------------------------------
    out.append(("keys", [
        (["MSET", p + "a", "1", p + "b", "2", p + "c", "3"], "OK"),
        (["DEL", p + "a", p + "nokey"], 1),
        (["UNLINK", p + "b", p + "c", p + "nokey"], 2),
        (["EXISTS", p + "a", p + "b", p + "c"], 0),
        ReadBack(p + "b", None),
        (["SET", p + "x", "1"], "OK"),
        (["EXISTS", p + "x", p + "x", p + "nokey"], 2),
        (["TOUCH", p + "x", p + "nokey"], 1),
        (["TYPE", p + "x"], "string"),
        (["TYPE", p + "nokey"], "none"),
        (["RENAME", p + "x", p + "y"], "OK"),
        (["GET", p + "y"], "1"),
        (["EXISTS", p + "x"], 0),
        ReadBack(p + "y", "1"),
        ReadBack(p + "x", None),
        (["RENAME", p + "nokey", p + "z"], Err("ERR no such key")),
        (["RENAME", p + "y", p + "y"], "OK"),
        (["RENAMENX", p + "y", p + "w"], 1),
        (["SET", p + "v", "9"], "OK"),
        (["RENAMENX", p + "w", p + "v"], 0),
        (["RENAMENX", p + "nokey", p + "v"], Err("ERR no such key")),
        (["SET", p + "t", "x", "EX", "100"], "OK"),
        (["RENAME", p + "t", p + "t2"], "OK"),
        (["TTL", p + "t2"], Range(90, 100)),  # the time to live moves with the value
        (["SET", p + "dst", "2", "EX", "100"], "OK"),
        (["RENAME", p + "w", p + "dst"], "OK"),
        (["TTL", p + "dst"], -1),  # ... and replaces the destination's
        (["DEL"], wrong_args("del")),
    ]))

    out.append(("expiry", [
        (["SET", p + "v", "9"], "OK"),
        (["TTL", p + "v"], -1),
        (["PTTL", p + "v"], -1),
        (["EXPIRETIME", p + "v"], -1),
        (["PEXPIRETIME", p + "v"], -1),
        (["TTL", p + "nokey"], -2),
        (["PTTL", p + "nokey"], -2),
        (["EXPIRETIME", p + "nokey"], -2),
        (["PEXPIRETIME", p + "nokey"], -2),
        (["EXPIRE", p + "v", "100"], 1),
        (["TTL", p + "v"], Range(90, 100)),
        (["EXPIRE", p + "nokey", "100"], 0),
        (["EXPIRE", p + "v", "200", "NX"], 0),
        (["EXPIRE", p + "v", "200", "XX"], 1),
        (["EXPIRE", p + "v", "50", "GT"], 0),
        (["EXPIRE", p + "v", "300", "GT"], 1),
        (["EXPIRE", p + "v", "100", "LT"], 1),
        (["TTL", p + "v"], Range(90, 100)),
        (["EXPIRE", p + "v", "100", "NX", "XX"],
         Err("ERR NX and XX, GT or LT options at the same time are not compatible")),
        (["EXPIRE", p + "v", "100", "BOGUS"], Err("ERR Unsupported option BOGUS")),
        (["EXPIRE", p + "v", "abc"], not_int),
        (["PEXPIRE", p + "v", "100000"], 1),
        (["PTTL", p + "v"], Range(90000, 100000)),
        (["EXPIREAT", p + "v", str(at_s)], 1),
        (["EXPIRETIME", p + "v"], at_s),
        (["PEXPIREAT", p + "v", str(at_ms)], 1),
        (["PEXPIRETIME", p + "v"], at_ms),
        (["EXPIRETIME", p + "v"], at_s),
        (["PEXPIREAT", p + "v", str(at_ms_up)], 1),
        (["EXPIRETIME", p + "v"], at_s + 1),
        (["PERSIST", p + "v"], 1),
        (["PERSIST", p + "v"], 0),
        (["PERSIST", p + "nokey"], 0),
        (["TTL", p + "v"], -1),
        (["EXPIRE", p + "v", "100", "XX"], 0),  # XX: the key has no time to live
        (["EXPIRE", p + "v", "100", "GT"], 0),  # no time to live counts as infinite
        (["EXPIRE", p + "v", "100", "LT"], 1),
        (["EXPIRE", p + "v", "0"], 1),  # a time not in the future deletes the key
        (["EXISTS", p + "v"], 0),
        ReadBack(p + "v", None),
        (["SET", p + "v", "9"], "OK"),
        (["PEXPIRE", p + "v", "-1"], 1),
        (["EXISTS", p + "v"], 0),
        (["SET", p + "v", "9"], "OK"),
        (["EXPIREAT", p + "v", "1"], 1),
        (["GET", p + "v"], None),
        (["PSETEX", p + "short", "300", "x"], "OK"),
        Do(lambda ctx: time.sleep(0.5), "wait for the 300 ms to pass"),
        (["GET", p + "short"], None),  # never returned after its time, deleted or not yet
        (["TTL", p + "short"], -2),
        (["EXISTS", p + "short"], 0),
        (["KEYS", p + "short"], []),
        (["DEL", p + "short"], 0),
        ReadBack(p + "short", None),
    ]))

    # -- chorus: CAS, HISTORY, GETREV ------------------------------------------------------------
    c = p + "cas"
    out.append(("cas-history", [
        (["SET", c, "a"], "OK"),
        (["CAS", c, "a", "b"], 1),
        (["CAS", c, "a", "c"], 0),
        (["GET", c], "b"),
        ReadBack(c, "b"),
        (["CAS", p + "nokey", "a", "b"], Err("ERR no such key")),
        (["CAS", c, "a"], wrong_args("cas")),
        (["SET", p + "ttl", "a", "EX", "100"], "OK"),
        (["CAS", p + "ttl", "a", "b"], 1),
        (["TTL", p + "ttl"], Range(90, 100)),  # CAS keeps the time to live (semantics.md)
        (["HISTORY", c], Save("hist", history_of(("set", "b"), ("set", "a")))),
        (["HISTORY", c, "COUNT", "1"], history_of(("set", "b"))),
        (["HISTORY", c, "COUNT", "0"], Err("ERR value is out of range, must be positive")),
        (["HISTORY", c, "LIMIT", "1"], syntax),
        (["HISTORY", p + "nokey"], []),
        (["GETREV", c, lambda ctx: str(ctx.saved["hist"][1][0])], "a"),
        (["GETREV", c, lambda ctx: str(ctx.saved["hist"][0][0])], "b"),
        (["GETREV", c, lambda ctx: str(ctx.saved["hist"][1][0] - 1)], None),
        (["GETREV", c, "999999999999"], "b"),
        (["GETREV", c, "-1"], Err("ERR value is out of range, must be positive")),
        (["GETREV", c, "x"], not_int),
        (["DEL", c], 1),
        (["HISTORY", c], history_of(("del", None), ("set", "b"), ("set", "a"))),
        (["GETREV", c, lambda ctx: str(ctx.saved["hist"][0][0])], "b"),
        (["GETREV", c, "999999999999"], None),
        (["INCR", c], 1),
        (["HISTORY", c, "COUNT", "2"], history_of(("incrby", "1"), ("del", None))),
    ]))

    # -- transactions ---------------------------------------------------------------------------
    t = p + "t"
    out.append(("multi-exec", [
        (["MULTI"], "OK"),
        (["SET", t, "1"], "QUEUED"),
        (["INCR", t], "QUEUED"),
        (["GET", t], "QUEUED"),
        (["EXEC"], ["OK", 2, "2"]),
        ReadBack(t, "2"),
        (["MULTI"], "OK"),
        (["SET", t, "5"], "QUEUED"),
        (["DISCARD"], "OK"),
        (["GET", t], "2"),
        (["EXEC"], Err("ERR EXEC without MULTI")),
        (["DISCARD"], Err("ERR DISCARD without MULTI")),
        (["MULTI"], "OK"),
        (["MULTI"], Err("ERR MULTI calls can not be nested")),
        (["DISCARD"], "OK"),
        (["MULTI"], "OK"),
        (["FOO"], Err("ERR unknown command 'FOO', with args beginning with: ")),
        (["SET", t, "9"], "QUEUED"),
        (["EXEC"], Err("EXECABORT Transaction discarded because of previous errors.")),
        (["GET", t], "2"),
        (["MULTI"], "OK"),
        (["GET"], wrong_args("get")),
        (["EXEC"], Err("EXECABORT Transaction discarded because of previous errors.")),
        (["SET", p + "s", "abc"], "OK"),
        (["MULTI"], "OK"),
        (["INCR", p + "s"], "QUEUED"),
        (["SET", t, "3"], "QUEUED"),
        (["EXEC"], [not_int, "OK"]),  # a runtime error does not stop the others
        (["GET", t], "3"),
        (["MULTI"], "OK"),
        (["EXEC"], []),
        (["WATCH", t], "OK"),
        (["MULTI"], "OK"),
        (["WATCH", t], Err("ERR WATCH inside MULTI is not allowed")),
        (["SET", t, "4"], "QUEUED"),
        (["EXEC"], ["OK"]),
        (["WATCH", t, p + "other"], "OK"),
        Do(lambda ctx: ctx.via_other_node("SET", t, "changed"),
           "change the watched key through another node"),
        (["MULTI"], "OK"),
        (["SET", t, "mine"], "QUEUED"),
        (["EXEC"], None),  # aborted: the key changed after WATCH
        (["GET", t], "changed"),
        ReadBack(t, "changed"),
        (["WATCH", t], "OK"),
        (["UNWATCH"], "OK"),
        Do(lambda ctx: ctx.via_other_node("SET", t, "again"), "change it again"),
        (["MULTI"], "OK"),
        (["SET", t, "mine"], "QUEUED"),
        (["EXEC"], ["OK"]),  # UNWATCH forgot the key
        (["GET", t], "mine"),
        (["WATCH", p + "absent"], "OK"),
        Do(lambda ctx: ctx.via_other_node("SET", p + "absent", "now"), "create a watched key"),
        (["MULTI"], "OK"),
        (["GET", p + "absent"], "QUEUED"),
        (["EXEC"], None),
        (["WATCH", t], "OK"),
        (["MULTI"], "OK"),
        (["DISCARD"], "OK"),
        Do(lambda ctx: ctx.via_other_node("SET", t, "x"), "change a key no longer watched"),
        (["MULTI"], "OK"),
        (["GET", t], "QUEUED"),
        (["EXEC"], ["x"]),  # DISCARD unwatched it
        (["SET", p + "wexp", "v", "PX", "300"], "OK"),
        (["WATCH", p + "wexp"], "OK"),
        Do(lambda ctx: time.sleep(0.6), "let the watched key expire"),
        (["MULTI"], "OK"),
        (["SET", p + "wexp", "x"], "QUEUED"),
        (["EXEC"], None),  # Redis 7: a watched key that expired aborts EXEC
        (["MULTI"], "OK"),
        (["MSET", p + "ma", "1", p + "mb", "2"], "QUEUED"),
        (["GETSET", p + "ma", "3"], "QUEUED"),
        (["CAS", p + "mb", "2", "4"], "QUEUED"),
        (["MGET", p + "ma", p + "mb"], "QUEUED"),
        (["EXEC"], ["OK", "1", 1, ["3", "4"]]),
    ]))

    # Redis queues any command in MULTI (PING, ECHO, ... run inside EXEC). Apart so that the rest
    # of multi-exec is checked whatever happens here.
    out.append(("multi-connection-commands", [
        (["MULTI"], "OK"),
        (["PING"], "QUEUED"),
        (["ECHO", "a"], "QUEUED"),
        (["SET", p + "mp", "1"], "QUEUED"),
        (["EXEC"], ["PONG", "a", "OK"]),
        (["GET", p + "mp"], "1"),
    ]))

    # -- connection and server ------------------------------------------------------------------
    def hello_reply(proto):
        return Map([("server", "chorus"), ("version", Pred(lambda v: v.startswith("7."),
                                                            "a 7.x version")),
                    ("proto", proto), ("id", Pred(lambda v: isinstance(v, int), "an id")),
                    ("mode", "standalone"),
                    ("role", Pred(lambda v: v in ("master", "replica"), "master or replica")),
                    ("modules", [])], ordered=True)

    name = "e2e-" + p.strip(":").replace(":", "-")
    out.append(("connection", [
        (["PING"], "PONG"),
        (["PING", "hello world"], "hello world"),
        (["PING", "a", "b"], wrong_args("ping")),
        (["ECHO", "a b\r\n"], "a b\r\n"),
        (["ECHO"], wrong_args("echo")),
        (["HELLO", str(resp)], hello_reply(resp)),
        (["HELLO", str(resp), "SETNAME", name + "-h"], hello_reply(resp)),
        (["CLIENT", "GETNAME"], name + "-h"),
        (["HELLO", "4"], Err("NOPROTO unsupported protocol version")),
        (["HELLO", "x"], Err("ERR Protocol version is not an integer or out of range")),
        (["HELLO", str(resp), "AUTH", "default", "x"],
         Err("ERR AUTH <password> called without any password configured for the default user. "
             "Are you sure your configuration is correct?")),
        (["AUTH", "x"],
         Err("ERR AUTH <password> called without any password configured for the default user. "
             "Are you sure your configuration is correct?")),
        (["SELECT", "0"], "OK"),
        (["SELECT", "1"], Err("ERR DB index is out of range")),
        (["SELECT", "x"], not_int),
        (["CLIENT", "ID"], Save("id", Pred(lambda v: isinstance(v, int) and v > 0, "an id"))),
        (["CLIENT", "SETNAME", name], "OK"),
        (["CLIENT", "GETNAME"], name),
        (["CLIENT", "SETNAME", "a b"],
         Err("ERR Client names cannot contain spaces, newlines or special characters.")),
        (["CLIENT", "INFO"], Pred(lambda v: ("name=%s " % name) in v and v.startswith("id="),
                                  "CLIENT INFO naming us")),
        (["CLIENT", "LIST"], Pred(lambda v: ("name=%s " % name) in v and
                                  v.count("id=") >= 1, "CLIENT LIST with us")),
        (["CLIENT", "BOGUS"], Err(prefix="ERR unknown subcommand")),
        (["COMMAND", "COUNT"], Save("count", Pred(lambda v: isinstance(v, int) and v >= 46,
                                                  "at least the 46 key-value commands"))),
        (["COMMAND", "INFO", "get", "SET", "nosuchcommand"], [
            command_info_entry("get", 2, ["readonly", "fast"], 1, 1, 1),
            command_info_entry("set", -3, ["write", "denyoom"], 1, 1, 1),
            None]),
        (["COMMAND", "INFO", "mset"], [command_info_entry("mset", -3, ["write", "denyoom"],
                                                          1, -1, 2)]),
        (["COMMAND", "DOCS", "get"], Pred(
            lambda v: _docs_has(v, "get", "string", resp), "COMMAND DOCS of get")),
        (["COMMAND"], Pred(lambda v: isinstance(v, list) and len(v) >= 46 and
                           {"get", "set", "cas", "history", "getrev", "ping", "multi"} <=
                           {e[0] for e in v}, "every command")),
        (["CONFIG", "GET", "maxmemory"], Map([("maxmemory", "0")])),
        (["CONFIG", "SET", "maxmemory", "100mb"], "OK"),
        (["CONFIG", "GET", "maxmemory"], Map([("maxmemory", "104857600")])),
        (["CONFIG", "SET", "maxmemory", "0"], "OK"),
        (["CONFIG", "GET", "notify-keyspace-events"], Map([("notify-keyspace-events", Pred(
            lambda v: sorted(v) == ["A", "E", "K"], "KEA in any order"))])),
        (["CONFIG", "GET", "databases", "appendonly"],
         Map([("databases", "1"), ("appendonly", "yes")])),
        (["CONFIG", "GET", "nosuchoption"], Map([])),
        (["CONFIG", "SET", "nosuchoption", "1"],
         Err(prefix="ERR CONFIG SET failed (possibly related to argument 'nosuchoption')")),
        (["CONFIG", "SET", "maxmemory", "lots"],
         Err(prefix="ERR CONFIG SET failed (possibly related to argument 'maxmemory')")),
        (["INFO"], Contains("# Server\r", "redis_version:", "# Clients\r", "connected_clients:",
                            "# Memory\r", "used_memory:", "# Stats\r", "# Replication\r",
                            "# Keyspace")),
        (["INFO", "server"], Pred(lambda v: "# Server" in v and "# Clients" not in v and
                                  "tcp_port:" in v, "only the Server section")),
        (["INFO", "clients"], Pred(lambda v: v.startswith("# Clients") and
                                   "connected_clients:" in v and "# Server" not in v,
                                   "only the Clients section")),
        (["INFO", "memory"], Pred(lambda v: v.startswith("# Memory") and "used_memory:" in v,
                                  "the Memory section")),
        (["INFO", "stats"], Pred(lambda v: v.startswith("# Stats") and
                                 "total_commands_processed:" in v, "the Stats section")),
        (["INFO", "replication"], Pred(lambda v: v.startswith("# Replication") and "role:" in v,
                                       "the Replication section")),
        (["INFO", "raft"], Pred(lambda v: v.startswith("# Raft") and "raft_term:" in v,
                                "the Raft section")),
        (["INFO", "keyspace"], Pred(lambda v: v.startswith("# Keyspace"),
                                    "the Keyspace section")),
        (["INFO", "commandstats"], Pred(lambda v: v.startswith("# Commandstats") and
                                        "cmdstat_" in v, "the Commandstats section")),
        (["INFO", "all"], Contains("# Server", "# Raft", "# Commandstats")),
        (["INFO", "everything"], Contains("# Server", "# Raft", "# Commandstats")),
        (["INFO", "default"], Pred(lambda v: "# Server" in v and "# Commandstats" not in v,
                                   "the default sections")),
        (["INFO", "server", "clients"], Pred(lambda v: "# Server" in v and "# Clients" in v and
                                             "# Memory" not in v, "two sections")),
        (["DBSIZE"], Pred(lambda v: isinstance(v, int) and v >= 0, "a count")),
        (["TIME"], Pred(lambda v: is_int_string(v[0]) and abs(int(v[0]) - time.time()) < 60 and
                        is_int_string(v[1]) and 0 <= int(v[1]) < 1000000,
                        "[unix seconds, microseconds]")),
        (["LASTSAVE"], Pred(lambda v: isinstance(v, int), "a time")),
        (["READONLY"], "OK"),
        (["GET", p + "nokey"], None),
        (["READWRITE"], "OK"),
        (["PUBLISH", "nobody-listens", "x"], 0),
        (["RESET"], "RESET"),
        (["CLIENT", "GETNAME"], None),
        Quit(),
    ]))
    return out


def _docs_has(v, name, group, resp):
    if resp == 3:
        doc = v[name]
    else:
        assert v[0] == name
        doc = dict(zip(v[1][0::2], v[1][1::2]))
    return doc["group"] == group and doc["summary"]
