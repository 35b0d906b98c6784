#include "connectors/scim/scim_filter.h"

#include <utility>

#include "connectors/scim/scim_error.h"

namespace keywarden {
namespace {

using nlohmann::json;

// ---- Lexing --------------------------------------------------------------------

struct Token {
  enum class Kind { end, lparen, rparen, lbracket, rbracket, word, literal };
  Kind kind = Kind::end;
  std::string_view text;  // word: as written; literal: the source text
  json literal;           // literal: a decoded string or number
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool ends_word(char c) {
  return is_space(c) || c == '(' || c == ')' || c == '[' || c == ']' || c == '"';
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  const Token& peek() {
    if (!peeked_) {
      next_ = lex();
      peeked_ = true;
    }
    return next_;
  }
  Token take() {
    peek();
    peeked_ = false;
    return std::move(next_);
  }
  size_t position() const { return pos_; }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw ScimError(400, "invalidFilter", what + " at offset " + std::to_string(pos_));
  }

  Token lex() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
    Token token;
    if (pos_ >= text_.size()) return token;
    const size_t start = pos_;
    const char c = text_[pos_];
    switch (c) {
      case '(': token.kind = Token::Kind::lparen; ++pos_; return token;
      case ')': token.kind = Token::Kind::rparen; ++pos_; return token;
      case '[': token.kind = Token::Kind::lbracket; ++pos_; return token;
      case ']': token.kind = Token::Kind::rbracket; ++pos_; return token;
      default: break;
    }
    if (c == '"') {
      ++pos_;
      while (pos_ < text_.size() && text_[pos_] != '"') {
        if (text_[pos_] == '\\') ++pos_;  // the escaped character cannot end the string
        ++pos_;
      }
      if (pos_ >= text_.size()) fail("unterminated string");
      ++pos_;
      token.kind = Token::Kind::literal;
      token.text = text_.substr(start, pos_ - start);
      // JSON's string grammar is SCIM's (RFC 7644 §3.4.2.2): let the JSON
      // parser decode escapes and reject control characters.
      token.literal = json::parse(token.text, nullptr, false);
      if (!token.literal.is_string()) fail("invalid string literal");
      return token;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      while (pos_ < text_.size() && !ends_word(text_[pos_])) ++pos_;
      token.kind = Token::Kind::literal;
      token.text = text_.substr(start, pos_ - start);
      token.literal = json::parse(token.text, nullptr, false);
      if (!token.literal.is_number()) fail("invalid number \"" + std::string(token.text) + "\"");
      return token;
    }
    while (pos_ < text_.size() && !ends_word(text_[pos_])) ++pos_;
    token.kind = Token::Kind::word;
    token.text = text_.substr(start, pos_ - start);
    return token;
  }

  std::string_view text_;
  size_t pos_ = 0;
  bool peeked_ = false;
  Token next_;
};

// ---- Parsing -------------------------------------------------------------------

std::optional<ScimCompareOp> compare_op(std::string_view word) {
  static constexpr std::pair<std::string_view, ScimCompareOp> kOps[] = {
      {"eq", ScimCompareOp::eq}, {"ne", ScimCompareOp::ne}, {"co", ScimCompareOp::co},
      {"sw", ScimCompareOp::sw}, {"ew", ScimCompareOp::ew}, {"gt", ScimCompareOp::gt},
      {"ge", ScimCompareOp::ge}, {"lt", ScimCompareOp::lt}, {"le", ScimCompareOp::le},
      {"pr", ScimCompareOp::pr}};
  for (const auto& [name, op] : kOps) {
    if (iequals(word, name)) return op;
  }
  return std::nullopt;
}

bool is_ordering(ScimCompareOp op) {
  return op == ScimCompareOp::gt || op == ScimCompareOp::ge || op == ScimCompareOp::lt ||
         op == ScimCompareOp::le;
}

std::string excerpt(std::string_view text) {
  constexpr size_t kMax = 40;
  std::string out = "\"" + std::string(text.substr(0, kMax));
  if (text.size() > kMax) out += "…";
  return out + "\"";
}

class Parser {
 public:
  explicit Parser(std::string_view text) : lexer_(text) {}

  ScimFilter parse_whole() {
    ScimFilter filter = parse_or(0);
    if (lexer_.peek().kind != Token::Kind::end) fail("unexpected " + describe(lexer_.peek()));
    return filter;
  }

  // "attr[filter]" with an optional ".sub" after it, for PATCH paths.
  ScimPatchPath parse_patch_path() {
    ScimPatchPath out;
    const Token word = lexer_.take();
    if (word.kind != Token::Kind::word) fail("expected an attribute name");
    out.attribute = attribute_path(word.text);
    if (lexer_.peek().kind == Token::Kind::lbracket) {
      if (!out.attribute.sub_attribute.empty()) fail("a filter cannot follow a sub-attribute");
      lexer_.take();
      in_value_path_ = true;
      out.has_filter = true;
      out.filter = parse_or(1);
      in_value_path_ = false;
      expect(Token::Kind::rbracket, "\"]\"");
      if (lexer_.peek().kind == Token::Kind::word) {
        const Token sub = lexer_.take();
        out.sub_attribute = sub_attribute_after_filter(sub.text);
      }
    }
    if (lexer_.peek().kind != Token::Kind::end) fail("unexpected " + describe(lexer_.peek()));
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw ScimError(400, "invalidFilter", what + " at offset " + std::to_string(lexer_.position()));
  }

  static std::string describe(const Token& token) {
    switch (token.kind) {
      case Token::Kind::end: return "end of filter";
      case Token::Kind::lparen: return "\"(\"";
      case Token::Kind::rparen: return "\")\"";
      case Token::Kind::lbracket: return "\"[\"";
      case Token::Kind::rbracket: return "\"]\"";
      case Token::Kind::word:
      case Token::Kind::literal: return excerpt(token.text);
    }
    return "token";
  }

  void expect(Token::Kind kind, const char* what) {
    if (lexer_.peek().kind != kind) fail(std::string("expected ") + what + ", found " + describe(lexer_.peek()));
    lexer_.take();
  }

  bool next_is_keyword(std::string_view keyword) {
    const Token& token = lexer_.peek();
    return token.kind == Token::Kind::word && iequals(token.text, keyword);
  }

  ScimAttributePath attribute_path(std::string_view text) {
    ScimAttributePath path;
    if (!parse_scim_attribute_path(text, path)) fail("invalid attribute name " + excerpt(text));
    return path;
  }

  std::string sub_attribute_after_filter(std::string_view text) {
    ScimAttributePath sub;
    if (text.size() < 2 || text[0] != '.' || !parse_scim_attribute_path(text.substr(1), sub) ||
        !sub.schema.empty() || !sub.sub_attribute.empty()) {
      fail("expected \".subAttribute\" after \"]\", found " + excerpt(text));
    }
    return sub.attribute;
  }

  void check_depth(int depth) {
    if (depth > kScimFilterMaxDepth) {
      fail("filter nested deeper than " + std::to_string(kScimFilterMaxDepth) + " levels");
    }
  }

  ScimFilter parse_or(int depth) {
    check_depth(depth);
    ScimFilter first = parse_and(depth);
    if (!next_is_keyword("or")) return first;
    ScimFilter any;
    any.kind = ScimFilter::Kind::any_of;
    any.children.push_back(std::move(first));
    while (next_is_keyword("or")) {
      lexer_.take();
      any.children.push_back(parse_and(depth));
    }
    return any;
  }

  ScimFilter parse_and(int depth) {
    ScimFilter first = parse_unary(depth);
    if (!next_is_keyword("and")) return first;
    ScimFilter all;
    all.kind = ScimFilter::Kind::all_of;
    all.children.push_back(std::move(first));
    while (next_is_keyword("and")) {
      lexer_.take();
      all.children.push_back(parse_unary(depth));
    }
    return all;
  }

  ScimFilter parse_unary(int depth) {
    const Token& token = lexer_.peek();
    if (token.kind == Token::Kind::word && iequals(token.text, "not")) {
      lexer_.take();
      expect(Token::Kind::lparen, "\"(\" after \"not\"");
      ScimFilter negation;
      negation.kind = ScimFilter::Kind::negation;
      negation.children.push_back(parse_or(depth + 1));
      expect(Token::Kind::rparen, "\")\"");
      return negation;
    }
    if (token.kind == Token::Kind::lparen) {
      lexer_.take();
      ScimFilter inner = parse_or(depth + 1);
      expect(Token::Kind::rparen, "\")\"");
      return inner;
    }
    if (token.kind == Token::Kind::word) return parse_attribute_expression(depth);
    fail("expected an attribute, \"(\" or \"not\", found " + describe(token));
  }

  ScimFilter parse_attribute_expression(int depth) {
    const Token word = lexer_.take();
    ScimAttributePath path = attribute_path(word.text);
    if (lexer_.peek().kind != Token::Kind::lbracket) return parse_comparison(std::move(path));

    if (in_value_path_) fail("a value path cannot be nested in another");
    if (!path.sub_attribute.empty()) fail("a filter cannot follow a sub-attribute");
    lexer_.take();
    in_value_path_ = true;
    ScimFilter inner = parse_or(depth + 1);
    expect(Token::Kind::rbracket, "\"]\"");
    // "emails[type eq "work"].value eq "x"": the element filter gains the
    // comparison on the sub-attribute.
    if (lexer_.peek().kind == Token::Kind::word && lexer_.peek().text.starts_with('.')) {
      const Token sub = lexer_.take();
      ScimAttributePath element_path;
      element_path.attribute = sub_attribute_after_filter(sub.text);
      ScimFilter tail = parse_comparison(std::move(element_path));
      ScimFilter both;
      both.kind = ScimFilter::Kind::all_of;
      both.children.push_back(std::move(inner));
      both.children.push_back(std::move(tail));
      inner = std::move(both);
    }
    in_value_path_ = false;
    ScimFilter value_path;
    value_path.kind = ScimFilter::Kind::value_path;
    value_path.path = std::move(path);
    value_path.children.push_back(std::move(inner));
    return value_path;
  }

  ScimFilter parse_comparison(ScimAttributePath path) {
    if (++terms_ > kScimFilterMaxTerms) {
      fail("more than " + std::to_string(kScimFilterMaxTerms) + " comparisons");
    }
    const Token op_token = lexer_.take();
    std::optional<ScimCompareOp> op;
    if (op_token.kind == Token::Kind::word) op = compare_op(op_token.text);
    if (!op) fail("expected an operator after " + excerpt(path.to_string()) + ", found " + describe(op_token));

    ScimFilter compare;
    compare.kind = ScimFilter::Kind::compare;
    compare.path = std::move(path);
    compare.op = *op;
    if (*op == ScimCompareOp::pr) return compare;

    const Token value = lexer_.take();
    if (value.kind == Token::Kind::literal) {
      compare.value = value.literal;
    } else if (value.kind == Token::Kind::word && iequals(value.text, "true")) {
      compare.value = true;
    } else if (value.kind == Token::Kind::word && iequals(value.text, "false")) {
      compare.value = false;
    } else if (value.kind == Token::Kind::word && iequals(value.text, "null")) {
      compare.value = nullptr;
    } else {
      fail("expected a value after " + excerpt(op_token.text) + ", found " + describe(value));
    }
    if (is_ordering(*op) && (compare.value.is_boolean() || compare.value.is_null())) {
      fail(std::string(op_token.text) + " cannot compare with a boolean or null");
    }
    return compare;
  }

  Lexer lexer_;
  bool in_value_path_ = false;
  int terms_ = 0;
};

// ---- Evaluation ----------------------------------------------------------------

// The values a comparison looks at, flattened: for "emails.value" one per
// email; for a multi-valued complex attribute named without a sub-attribute,
// each element's "value" (RFC 7644 §3.4.2.2).
struct Operands {
  std::vector<const json*> values;
  bool case_exact = false;
};

void add_value(Operands& out, const json* value) {
  if (value == nullptr) return;
  if (value->is_array()) {
    for (const json& element : *value) out.values.push_back(&element);
  } else {
    out.values.push_back(value);
  }
}

Operands operands(const ScimFilter& compare, const json& object, std::string_view parent) {
  Operands out;
  const ScimAttributePath& path = compare.path;
  const json* container = parent.empty() ? scim_attribute_container(object, path) : &object;
  if (container == nullptr) return out;
  const json* attribute = find_scim_member(*container, path.attribute);
  if (attribute == nullptr) return out;
  if (!path.sub_attribute.empty()) {
    out.case_exact = scim_case_exact(path.attribute, path.sub_attribute);
    if (attribute->is_array()) {
      for (const json& element : *attribute) add_value(out, find_scim_member(element, path.sub_attribute));
    } else {
      add_value(out, find_scim_member(*attribute, path.sub_attribute));
    }
    return out;
  }
  out.case_exact = scim_case_exact(parent, path.attribute);
  if (attribute->is_array()) {
    const bool element_case_exact = scim_case_exact(path.attribute, "value");
    for (const json& element : *attribute) {
      if (element.is_object()) {
        add_value(out, find_scim_member(element, "value"));
        out.case_exact = element_case_exact;
      } else {
        out.values.push_back(&element);
      }
    }
    return out;
  }
  out.values.push_back(attribute);
  return out;
}

bool present(const json& value) {
  if (value.is_null()) return false;
  if (value.is_string()) return !value.get_ref<const std::string&>().empty();
  if (value.is_array() || value.is_object()) return !value.empty();
  return true;
}

template <typename T>
bool order(ScimCompareOp op, const T& a, const T& b) {
  switch (op) {
    case ScimCompareOp::eq: return a == b;
    case ScimCompareOp::gt: return a > b;
    case ScimCompareOp::ge: return a >= b;
    case ScimCompareOp::lt: return a < b;
    case ScimCompareOp::le: return a <= b;
    default: return false;
  }
}

// `op` is not ne or pr; those are derived from eq and present().
bool compare_one(ScimCompareOp op, const json& actual, const json& expected, bool case_exact) {
  if (actual.is_string() && expected.is_string()) {
    const std::string& a_raw = actual.get_ref<const std::string&>();
    const std::string& e_raw = expected.get_ref<const std::string&>();
    const std::string a = case_exact ? a_raw : ascii_lower(a_raw);
    const std::string e = case_exact ? e_raw : ascii_lower(e_raw);
    switch (op) {
      case ScimCompareOp::co: return a.find(e) != std::string::npos;
      case ScimCompareOp::sw: return a.starts_with(e);
      case ScimCompareOp::ew: return a.ends_with(e);
      default: return order(op, a, e);
    }
  }
  if (actual.is_number() && expected.is_number()) {
    if (actual.is_number_integer() && expected.is_number_integer()) {
      // Both integers: compare exactly, not through double.
      if (actual.is_number_unsigned() || expected.is_number_unsigned()) {
        if (actual.is_number_unsigned() && expected.is_number_unsigned()) {
          return order(op, actual.get<uint64_t>(), expected.get<uint64_t>());
        }
      } else {
        return order(op, actual.get<int64_t>(), expected.get<int64_t>());
      }
    }
    return order(op, actual.get<double>(), expected.get<double>());
  }
  if (actual.is_boolean() && expected.is_boolean()) {
    return op == ScimCompareOp::eq && actual.get<bool>() == expected.get<bool>();
  }
  return false;
}

bool matches(const ScimFilter& filter, const json& object, std::string_view parent) {
  switch (filter.kind) {
    case ScimFilter::Kind::all_of:
      for (const ScimFilter& child : filter.children) {
        if (!matches(child, object, parent)) return false;
      }
      return true;
    case ScimFilter::Kind::any_of:
      for (const ScimFilter& child : filter.children) {
        if (matches(child, object, parent)) return true;
      }
      return false;
    case ScimFilter::Kind::negation:
      return !filter.children.empty() && !matches(filter.children[0], object, parent);
    case ScimFilter::Kind::value_path: {
      if (filter.children.empty()) return false;
      const json* container =
          parent.empty() ? scim_attribute_container(object, filter.path) : &object;
      if (container == nullptr) return false;
      const json* attribute = find_scim_member(*container, filter.path.attribute);
      if (attribute == nullptr) return false;
      if (attribute->is_object()) return matches(filter.children[0], *attribute, filter.path.attribute);
      if (!attribute->is_array()) return false;
      for (const json& element : *attribute) {
        if (element.is_object() && matches(filter.children[0], element, filter.path.attribute)) {
          return true;
        }
      }
      return false;
    }
    case ScimFilter::Kind::compare: break;
  }

  const Operands found = operands(filter, object, parent);
  switch (filter.op) {
    case ScimCompareOp::pr:
      for (const json* value : found.values) {
        if (present(*value)) return true;
      }
      return false;
    case ScimCompareOp::eq:
    case ScimCompareOp::ne: {
      bool equal = false;
      if (filter.value.is_null()) {
        equal = true;  // "eq null": no value at all
        for (const json* value : found.values) {
          if (!value->is_null()) equal = false;
        }
      } else {
        for (const json* value : found.values) {
          if (compare_one(ScimCompareOp::eq, *value, filter.value, found.case_exact)) equal = true;
        }
      }
      return filter.op == ScimCompareOp::eq ? equal : !equal;
    }
    default:
      for (const json* value : found.values) {
        if (compare_one(filter.op, *value, filter.value, found.case_exact)) return true;
      }
      return false;
  }
}

}  // namespace

ScimFilter parse_scim_filter(std::string_view text) {
  if (text.size() > kScimFilterMaxLength) {
    throw ScimError(400, "invalidFilter",
                    "filter longer than " + std::to_string(kScimFilterMaxLength) + " characters");
  }
  return Parser(text).parse_whole();
}

ScimPatchPath parse_scim_patch_path(std::string_view text) {
  if (text.size() > kScimFilterMaxLength) {
    throw ScimError(400, "invalidPath",
                    "path longer than " + std::to_string(kScimFilterMaxLength) + " characters");
  }
  try {
    return Parser(text).parse_patch_path();
  } catch (const ScimError& e) {
    throw ScimError(400, "invalidPath", "invalid path " + excerpt(text) + ": " + e.detail());
  }
}

bool scim_filter_matches(const ScimFilter& filter, const json& resource) {
  return matches(filter, resource, {});
}

bool scim_filter_matches_element(const ScimFilter& filter, const json& element,
                                 std::string_view parent) {
  return matches(filter, element, parent);
}

bool scim_filter_mentions(const ScimFilter& filter, std::string_view attribute) {
  if ((filter.kind == ScimFilter::Kind::compare || filter.kind == ScimFilter::Kind::value_path) &&
      iequals(filter.path.attribute, attribute)) {
    return true;
  }
  if (filter.kind == ScimFilter::Kind::value_path) return false;  // children name sub-attributes
  for (const ScimFilter& child : filter.children) {
    if (scim_filter_mentions(child, attribute)) return true;
  }
  return false;
}

}  // namespace keywarden
