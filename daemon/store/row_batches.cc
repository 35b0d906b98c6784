#include "daemon/store/row_batches.h"

#include <algorithm>
#include <stdexcept>

namespace keywarden::sql {

std::string repeat_rows(std::string_view row, size_t rows, int first) {
  int width = 0;
  for (size_t i = 0; i + 1 < row.size(); ++i) {
    if (row[i] != '#') continue;
    const char digit = row[i + 1];
    if (digit < '0' || digit > '9') throw std::logic_error("repeat_rows: '#' without a digit");
    width = std::max(width, digit - '0' + 1);
  }
  std::string sql;
  sql.reserve(rows * (row.size() + 8));
  for (size_t k = 0; k < rows; ++k) {
    if (k > 0) sql += ", ";
    const int base = first + static_cast<int>(k) * width;
    for (size_t i = 0; i < row.size(); ++i) {
      if (row[i] == '#' && i + 1 < row.size()) {
        sql += '?';
        sql += std::to_string(base + (row[i + 1] - '0'));
        ++i;
      } else {
        sql += row[i];
      }
    }
  }
  return sql;
}

}  // namespace keywarden::sql
