#include "core/amf_value.hpp"

#include <charconv>
#include <cstdio>

namespace rtmp::amf {

bool Object::operator==(const Object &o) const {
  return class_name == o.class_name && sealed_count == o.sealed_count && dynamic == o.dynamic &&
         properties == o.properties;
}

bool EcmaArray::operator==(const EcmaArray &o) const {
  return properties == o.properties;
}

bool Array::operator==(const Array &o) const {
  return dense == o.dense && associative == o.associative;
}

bool VectorObject::operator==(const VectorObject &o) const {
  return fixed == o.fixed && type_name == o.type_name && items == o.items;
}

bool Dictionary::operator==(const Dictionary &o) const {
  return weak_keys == o.weak_keys && entries == o.entries;
}

std::optional<double> Value::as_number() const {
  if (const double *d = get_if<double>())
    return *d;
  if (const Integer *i = get_if<Integer>())
    return static_cast<double>(i->value);
  return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
  if (const bool *b = get_if<bool>())
    return *b;
  return std::nullopt;
}

const Properties *Value::properties() const {
  if (const Object *o = get_if<Object>())
    return &o->properties;
  if (const EcmaArray *e = get_if<EcmaArray>())
    return &e->properties;
  if (const Array *a = get_if<Array>())
    return &a->associative;
  return nullptr;
}

Properties *Value::properties() {
  return const_cast<Properties *>(static_cast<const Value *>(this)->properties());
}

// Hostile input may repeat a key; the first occurrence wins, in wire order.
const Value *Value::find(std::string_view key) const {
  const Properties *props = properties();
  if (!props)
    return nullptr;
  for (const auto &[name, value] : *props)
    if (name == key)
      return &value;
  return nullptr;
}

std::optional<double> Value::number_at(std::string_view key) const {
  const Value *found = find(key);
  return found ? found->as_number() : std::nullopt;
}

std::optional<std::string> Value::string_at(std::string_view key) const {
  const Value *found = find(key);
  if (!found || !found->as_string())
    return std::nullopt;
  return *found->as_string();
}

Value make_object(Properties props) {
  Object o;
  o.properties = std::move(props);
  return Value(std::move(o));
}

Value make_ecma_array(Properties props) {
  EcmaArray e;
  e.properties = std::move(props);
  return Value(std::move(e));
}

namespace {

// Renders into `out`, giving up (with a trailing "...") once `max_len` is reached so that a
// huge or hostile value cannot make a log line of unbounded size.
class DebugPrinter {
public:
  explicit DebugPrinter(std::size_t max_len) : max_len_(max_len) {}

  std::string finish() && {
    if (full_)
      out_ += "...";
    return std::move(out_);
  }

  void value(const Value &v) {
    if (full_)
      return;
    std::visit([this](const auto &x) { print(x); }, v.v);
  }

private:
  void put(std::string_view s) {
    if (full_)
      return;
    if (out_.size() + s.size() > max_len_) {
      out_.append(s.substr(0, max_len_ - out_.size()));
      full_ = true;
      return;
    }
    out_.append(s);
  }
  void number(double d) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, d);
    put(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
  }
  void integer(long long i) { put(std::to_string(i)); }
  void quoted(std::string_view s) {
    put("\"");
    for (char c : s) {
      if (full_)
        return;
      auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        const char esc[2] = {'\\', c};
        put(std::string_view(esc, 2));
      } else if (u < 0x20 || u == 0x7F) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", u);
        put(buf);
      } else {
        put(std::string_view(&c, 1));
      }
    }
    put("\"");
  }
  void props(const Properties &ps, bool first = true) {
    for (const auto &[k, v] : ps) {
      if (full_)
        return;
      if (!first)
        put(", ");
      first = false;
      quoted(k);
      put(": ");
      value(v);
    }
  }
  template <typename Range> void list(const Range &items) {
    bool first = true;
    for (const auto &x : items) {
      if (full_)
        return;
      if (!first)
        put(", ");
      first = false;
      if constexpr (std::is_same_v<std::decay_t<decltype(x)>, Value>)
        value(x);
      else if constexpr (std::is_same_v<std::decay_t<decltype(x)>, double>)
        number(x);
      else
        integer(x);
    }
  }

  void print(const Undefined &) { put("undefined"); }
  void print(const Null &) { put("null"); }
  void print(const Unsupported &) { put("unsupported"); }
  void print(bool b) { put(b ? "true" : "false"); }
  void print(double d) { number(d); }
  void print(const Integer &i) {
    put("int(");
    integer(i.value);
    put(")");
  }
  void print(const std::string &s) { quoted(s); }
  void print(const Object &o) {
    if (!o.class_name.empty()) {
      put(o.class_name);
      put(" ");
    }
    put("{");
    props(o.properties);
    put("}");
  }
  void print(const EcmaArray &e) {
    put("ecma{");
    props(e.properties);
    put("}");
  }
  void print(const Array &a) {
    put("[");
    list(a.dense);
    props(a.associative, a.dense.empty());
    put("]");
  }
  void print(const Date &d) {
    put("date(");
    number(d.ms_since_epoch);
    if (d.timezone_minutes != 0) {
      put(", tz ");
      integer(d.timezone_minutes);
    }
    put(")");
  }
  void print(const Xml &x) {
    put(x.e4x ? "xml(" : "xmldoc(");
    quoted(x.text);
    put(")");
  }
  void print(const ByteArray &b) {
    put("bytes(");
    integer(static_cast<long long>(b.data.size()));
    put(")");
  }
  template <typename T> void print(const Vector<T> &v) {
    put(std::is_same_v<T, double>          ? "vector<double>["
        : std::is_same_v<T, std::uint32_t> ? "vector<uint>["
                                           : "vector<int>[");
    list(v.items);
    put("]");
  }
  void print(const VectorObject &v) {
    put("vector<");
    put(v.type_name.empty() ? "*" : v.type_name);
    put(">[");
    list(v.items);
    put("]");
  }
  void print(const Dictionary &d) {
    put("dict{");
    bool first = true;
    for (const auto &[k, v] : d.entries) {
      if (full_)
        return;
      if (!first)
        put(", ");
      first = false;
      value(k);
      put(" => ");
      value(v);
    }
    put("}");
  }

  std::size_t max_len_;
  std::string out_;
  bool full_ = false;
};

} // namespace

std::string to_debug_string(const Value &v, std::size_t max_len) {
  DebugPrinter p(max_len);
  p.value(v);
  return std::move(p).finish();
}

} // namespace rtmp::amf
