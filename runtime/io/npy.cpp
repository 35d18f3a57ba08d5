#include "runtime/io/npy.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "runtime/error.h"

namespace fx {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kMaxHeader = 1 << 20;  // numpy itself refuses headers above 10 KB by default

std::string q(const std::string& name) { return "'" + name + "'"; }

struct Header {
  std::vector<int64_t> shape;
  size_t data_offset = 0;
  uint64_t count = 1;
};

// Python-literal parser for the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class DictParser {
 public:
  DictParser(const char* s, size_t n, const std::string& name) : s_(s), n_(n), name_(name) {}

  void parse(std::string* descr, bool* descr_is_string, bool* fortran, std::vector<int64_t>* shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    ws();
    expect('{');
    for (;;) {
      ws();
      if (peek() == '}') {
        ++i_;
        break;
      }
      const std::string key = string_literal();
      ws();
      expect(':');
      ws();
      if (key == "descr") {
        if (peek() == '\'' || peek() == '"') {
          *descr = string_literal();
          *descr_is_string = true;
        } else {
          skip_value();  // structured dtype: a list of fields
          *descr_is_string = false;
        }
        have_descr = true;
      } else if (key == "fortran_order") {
        *fortran = boolean();
        have_fortran = true;
      } else if (key == "shape") {
        *shape = tuple();
        have_shape = true;
      } else {
        skip_value();
      }
      ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      ws();
      expect('}');
      break;
    }
    if (!have_descr || !have_fortran || !have_shape) malformed("missing 'descr', 'fortran_order' or 'shape'");
  }

 private:
  [[noreturn]] void malformed(const std::string& why) {
    throw Error(q(name_) + " has a malformed .npy header (" + why + ")");
  }
  char peek() const { return i_ < n_ ? s_[i_] : '\0'; }
  void ws() {
    while (i_ < n_ && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    if (peek() != c) malformed(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string_literal() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') malformed("expected a string");
    ++i_;
    std::string out;
    while (i_ < n_ && s_[i_] != quote) {
      if (out.size() > 256) malformed("string too long");
      out.push_back(s_[i_++]);
    }
    expect(quote);
    return out;
  }
  bool boolean() {
    if (n_ - i_ >= 4 && std::memcmp(s_ + i_, "True", 4) == 0) {
      i_ += 4;
      return true;
    }
    if (n_ - i_ >= 5 && std::memcmp(s_ + i_, "False", 5) == 0) {
      i_ += 5;
      return false;
    }
    malformed("'fortran_order' is not True or False");
  }
  int64_t integer() {
    if (peek() < '0' || peek() > '9') malformed("a dimension is not a non-negative integer");
    int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const int d = s_[i_++] - '0';
      if (v > (std::numeric_limits<int64_t>::max() - d) / 10) malformed("a dimension is too large");
      v = v * 10 + d;
    }
    if (peek() == 'L') ++i_;  // Python 2 long
    return v;
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> dims;
    expect('(');
    for (;;) {
      ws();
      if (peek() == ')') {
        ++i_;
        return dims;
      }
      if (dims.size() >= 64) malformed("too many dimensions");
      dims.push_back(integer());
      ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect(')');
      return dims;
    }
  }
  void skip_value() {  // any literal with balanced brackets and quoted strings
    int depth = 0;
    while (i_ < n_) {
      const char c = s_[i_];
      if (c == '\'' || c == '"') {
        string_literal();
        continue;
      }
      if (c == '(' || c == '[' || c == '{') ++depth;
      if (c == ')' || c == ']' || c == '}') {
        if (depth == 0) return;
        --depth;
      }
      if (c == ',' && depth == 0) return;
      ++i_;
    }
    malformed("unterminated value");
  }

  const char* s_;
  size_t n_;
  const std::string& name_;
  size_t i_ = 0;
};

// Parses magic, version and header from `buf` (at least the whole header must be in it, `total` is the
// size of the whole file) and validates the element count against `total`.
Header parse_header(const uint8_t* buf, size_t avail, uint64_t total, const std::string& name) {
  if (avail < kMagicLen || std::memcmp(buf, kMagic, kMagicLen) != 0)
    throw Error(q(name) + " is not a .npy file (bad magic)");
  if (avail < 10) throw Error(q(name) + " is truncated (incomplete .npy header)");
  const int major = buf[6], minor = buf[7];
  size_t hlen = 0, prefix = 0;
  if (major == 1) {
    hlen = static_cast<size_t>(buf[8]) | (static_cast<size_t>(buf[9]) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (avail < 12) throw Error(q(name) + " is truncated (incomplete .npy header)");
    hlen = static_cast<size_t>(buf[8]) | (static_cast<size_t>(buf[9]) << 8) |
           (static_cast<size_t>(buf[10]) << 16) | (static_cast<size_t>(buf[11]) << 24);
    prefix = 12;
  } else {
    throw Error(q(name) + " has unsupported .npy format version " + std::to_string(major) + "." +
                std::to_string(minor));
  }
  if (hlen > kMaxHeader)
    throw Error(q(name) + " has a malformed .npy header (header length " + std::to_string(hlen) + ")");
  if (prefix + hlen > avail) throw Error(q(name) + " is truncated (incomplete .npy header)");

  std::string descr;
  bool descr_is_string = false, fortran = false;
  Header h;
  DictParser(reinterpret_cast<const char*>(buf + prefix), hlen, name)
      .parse(&descr, &descr_is_string, &fortran, &h.shape);
  if (!descr_is_string) throw Error(q(name) + " is not a float32 .npy file (structured dtype)");
  // '<f4' always; '|f4' / '=f4' mean native order, little-endian on every host this code runs on.
  if (descr != "<f4" && descr != "=f4" && descr != "|f4")
    throw Error(q(name) + " is not a float32 .npy file (descr '" + descr + "')");
  if (fortran) throw Error(q(name) + " is in Fortran order; only C-order arrays are supported");
  h.data_offset = prefix + hlen;

  const uint64_t avail_bytes = total - h.data_offset;
  bool zero = false, overflow = false;
  for (int64_t d : h.shape) zero = zero || d == 0;
  h.count = zero ? 0 : 1;
  if (!zero)
    for (int64_t d : h.shape)
      if (__builtin_mul_overflow(h.count, static_cast<uint64_t>(d), &h.count)) {
        overflow = true;
        break;
      }
  if (h.count > (uint64_t{1} << 60)) overflow = true;  // keeps h.count * 4 below in range
  if (overflow || h.count > avail_bytes / 4) {
    std::string dims;
    for (size_t i = 0; i < h.shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(h.shape[i]);
    if (overflow)
      throw Error(q(name) + " is truncated: the header's shape (" + dims + ") is larger than the " +
                  std::to_string(avail_bytes) + " bytes that follow");
    throw Error(q(name) + " is truncated: the header promises " + std::to_string(h.count) +
                " float32 values (" + std::to_string(h.count * 4) + " bytes), " + std::to_string(avail_bytes) +
                " bytes follow");
  }
  return h;
}

void to_native(std::vector<float>& v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  for (float& f : v) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u = __builtin_bswap32(u);
    std::memcpy(&f, &u, 4);
  }
#else
  (void)v;
#endif
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

}  // namespace

int64_t NpyArray::size() const {
  for (int64_t d : shape)
    if (d == 0) return 0;  // before multiplying: the other dimensions may be huge
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

NpyArray read_npy_memory(const void* bytes, size_t size, const std::string& name) {
  const auto* b = static_cast<const uint8_t*>(bytes);
  const Header h = parse_header(b, size, size, name);
  NpyArray a;
  a.shape = h.shape;
  a.data.resize(h.count);
  if (h.count) std::memcpy(a.data.data(), b + h.data_offset, h.count * 4);
  to_native(a.data);
  return a;
}

NpyArray read_npy(const std::string& path) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) throw Error("cannot open " + q(path) + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fileno(f.get()), &st) != 0) throw Error("cannot read " + q(path) + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw Error("cannot read " + q(path) + ": " + std::strerror(EISDIR));
  if (!S_ISREG(st.st_mode)) {  // pipe or device: read it all, then parse from memory
    std::vector<uint8_t> all;
    uint8_t chunk[65536];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof chunk, f.get())) > 0) all.insert(all.end(), chunk, chunk + n);
    return read_npy_memory(all.data(), all.size(), path);
  }
  const uint64_t total = static_cast<uint64_t>(st.st_size);
  // The fixed prefix first, then the header it announces (bounded by kMaxHeader and the file size).
  std::vector<uint8_t> head(static_cast<size_t>(std::min<uint64_t>(total, 12)));
  if (std::fread(head.data(), 1, head.size(), f.get()) != head.size())
    throw Error("cannot read " + q(path) + ": " + std::strerror(errno));
  size_t want = head.size();
  if (head.size() >= 10 && std::memcmp(head.data(), kMagic, kMagicLen) == 0) {
    size_t hlen = head[8] | (head[9] << 8);
    size_t prefix = 10;
    if (head[6] >= 2 && head.size() >= 12) {
      hlen |= (static_cast<size_t>(head[10]) << 16) | (static_cast<size_t>(head[11]) << 24);
      prefix = 12;
    }
    want = static_cast<size_t>(std::min<uint64_t>(total, prefix + std::min(hlen, kMaxHeader + 1)));
  }
  if (want > head.size()) {
    const size_t had = head.size();
    head.resize(want);
    if (std::fread(head.data() + had, 1, want - had, f.get()) != want - had)
      throw Error("cannot read " + q(path) + ": " + std::strerror(errno));
  }
  const Header h = parse_header(head.data(), head.size(), total, path);
  NpyArray a;
  a.shape = h.shape;
  a.data.resize(h.count);  // validated against the file size above
  if (std::fseek(f.get(), static_cast<long>(h.data_offset), SEEK_SET) != 0)
    throw Error("cannot read " + q(path) + ": " + std::strerror(errno));
  if (h.count && std::fread(a.data.data(), 4, h.count, f.get()) != h.count)
    throw Error(q(path) + " is truncated (short read)");
  to_native(a.data);
  return a;
}

std::string npy_header(const std::vector<int64_t>& shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) throw Error("write_npy: negative dimension " + std::to_string(shape[i]));
    if (i) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dict += ",";
  dict += "), }";
  // As ort_reference.js: pad = 64 - ((10 + len + 1) % 64); spaces (pad % 64), then '\n'.
  const size_t pad = 64 - ((10 + dict.size() + 1) % 64);
  dict.append(pad % 64, ' ');
  dict += '\n';
  if (dict.size() > 65535) throw Error("write_npy: too many dimensions for a version 1.0 header");
  std::string out(kMagic, kMagicLen);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>((dict.size() >> 8) & 0xff);
  out += dict;
  return out;
}

std::vector<uint8_t> encode_npy(const std::vector<int64_t>& shape, const float* data) {
  const std::string header = npy_header(shape);
  uint64_t count = 1;
  for (int64_t d : shape) count *= static_cast<uint64_t>(d);
  std::vector<uint8_t> out(header.begin(), header.end());
  const size_t off = out.size();
  out.resize(off + count * 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t u;
    std::memcpy(&u, data + i, 4);
    u = __builtin_bswap32(u);
    std::memcpy(out.data() + off + 4 * i, &u, 4);
  }
#else
  if (count) std::memcpy(out.data() + off, data, count * 4);
#endif
  return out;
}

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  const std::vector<uint8_t> bytes = encode_npy(shape, data);
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "wb"));
  if (!f) throw Error("cannot write " + q(path) + ": " + std::strerror(errno));
  if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size())
    throw Error("cannot write " + q(path) + ": " + std::strerror(errno));
  FILE* raw = f.release();
  if (std::fclose(raw) != 0) throw Error("cannot write " + q(path) + ": " + std::strerror(errno));
}

}  // namespace fx
