/* chorus_hiredis_client: runs Redis commands through hiredis, for the end-to-end tests of chorusd
 * (tests/e2e/server). The tests drive it through a pipe; it is not a general tool.
 *
 *   chorus_hiredis_client HOST PORT [--pipeline]
 *
 * stdin:  one command per line; its arguments separated by single spaces, each percent-encoded
 *         ("%20" for a space, "%0A" for a newline; "%" alone is an empty argument).
 * stdout: one line per reply, in the format of `redis-cli --json`: a JSON string (every byte
 *         below 0x20 or above 0x7e as \u00XX, so the reader maps characters back to bytes one to
 *         one), an integer, null, or an array of these; an error as error:"message".
 *         A lost connection prints closed:"reason" and exits with status 3.
 *
 * By default each reply is printed and flushed before the next line is read (a test can act
 * between two commands). With --pipeline every command is appended first, and the replies are
 * read once stdin ends: one round trip for the whole input.
 */
#include <hiredis/hiredis.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kMaxArgs = 1024 };

static int hex_value(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes %XX in place; returns the decoded length, or -1 if malformed. "%" alone is the empty
 * argument (a line cannot hold an empty token). */
static long percent_decode(char* s, size_t n) {
  if (n == 1 && s[0] == '%') return 0;
  size_t out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (s[i] != '%') {
      s[out++] = s[i];
      continue;
    }
    if (i + 2 >= n) return -1; /* fewer than two hex digits follow */
    int hi = hex_value((unsigned char)s[i + 1]);
    int lo = hex_value((unsigned char)s[i + 2]);
    if (hi < 0 || lo < 0) return -1;
    s[out++] = (char)(hi * 16 + lo);
    i += 2;
  }
  return (long)out;
}

static void print_string(const char* s, size_t n) {
  putchar('"');
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      putchar('\\');
      putchar(c);
    } else if (c < 0x20 || c > 0x7e) {
      printf("\\u%04x", c);
    } else {
      putchar(c);
    }
  }
  putchar('"');
}

static void print_reply(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      print_string(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      fputs("error:", stdout);
      print_string(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      printf("%lld", r->integer);
      break;
    case REDIS_REPLY_NIL:
      fputs("null", stdout);
      break;
    case REDIS_REPLY_ARRAY:
      putchar('[');
      for (size_t i = 0; i < r->elements; ++i) {
        if (i > 0) putchar(',');
        print_reply(r->element[i]);
      }
      putchar(']');
      break;
    default:
      printf("\"unknown reply type %d\"", r->type);
  }
}

/* Parses a line into argv/argvlen (pointing into `line`); returns argc, or -1. */
static int split_line(char* line, size_t n, char** argv, size_t* argvlen) {
  int argc = 0;
  size_t start = 0;
  for (size_t i = 0; i <= n; ++i) {
    if (i < n && line[i] != ' ') continue;
    if (argc == kMaxArgs) return -1;
    long len = percent_decode(line + start, i - start);
    if (len < 0) return -1;
    argv[argc] = line + start;
    argvlen[argc] = (size_t)len;
    ++argc;
    start = i + 1;
  }
  return argc;
}

static int read_and_print(redisContext* c) {
  void* reply = NULL;
  if (redisGetReply(c, &reply) != REDIS_OK || reply == NULL) {
    fputs("closed:", stdout);
    print_string(c->errstr, strlen(c->errstr));
    putchar('\n');
    fflush(stdout);
    return -1;
  }
  print_reply((redisReply*)reply);
  putchar('\n');
  freeReplyObject(reply);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--pipeline") != 0)) {
    fprintf(stderr, "usage: %s HOST PORT [--pipeline]\n", argv[0]);
    return 2;
  }
  const int pipeline = argc == 4;
  redisContext* c = redisConnect(argv[1], atoi(argv[2]));
  if (c == NULL || c->err) {
    fprintf(stderr, "cannot connect: %s\n", c ? c->errstr : "out of memory");
    return 1;
  }
  char* line = NULL;
  size_t cap = 0;
  ssize_t n;
  long pending = 0;
  static char* args[kMaxArgs];
  static size_t lens[kMaxArgs];
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    if (n > 0 && line[n - 1] == '\n') --n;
    if (n == 0) continue;
    int nargs = split_line(line, (size_t)n, args, lens);
    if (nargs <= 0) {
      fprintf(stderr, "bad input line\n");
      return 2;
    }
    if (redisAppendCommandArgv(c, nargs, (const char**)args, lens) != REDIS_OK) {
      fprintf(stderr, "cannot append: %s\n", c->errstr);
      return 1;
    }
    ++pending;
    if (!pipeline) {
      --pending;
      if (read_and_print(c) != 0) return 3;
      fflush(stdout);
    }
  }
  for (; pending > 0; --pending) {
    if (read_and_print(c) != 0) return 3;
  }
  fflush(stdout);
  free(line);
  redisFree(c);
  return 0;
}
