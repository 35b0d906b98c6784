// Many rows per statement: a large group change writes and reads tens of
// thousands of rows of one shape, and running one statement per row spends
// most of its time starting and stopping SQLite's program (opening cursors,
// binding, halting), not on the rows. These cut such a run into a few
// statements of up to kLargestBatch rows each. Private to the store.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace keywarden::sql {

// The batch sizes a run is cut into, largest first: as many of the largest as
// fit, then of the next. Few sizes keep few distinct statements in the
// StatementCache; no batch is ever padded (a repeated row would be a second
// write of one key in an upsert).
inline constexpr std::array<size_t, 4> kBatchSizes{256, 32, 4, 1};
inline constexpr size_t kLargestBatch = kBatchSizes.front();

// `rows` copies of `row`, separated by ", ". In `row`, "#0", "#1", … stand for
// the row's own parameters: the k-th row's "#i" becomes "?N" with
// N = first + k * width + i, where width is the number of distinct "#i"
// (at most 10, numbered from 0 without gaps). Every other character of `row`,
// "?1" included, is copied as it is, so parameters shared by every row are
// written as ordinary "?N" below `first`.
//
//   repeat_rows("(?1, #0, #1)", 2, 2) == "(?1, ?2, ?3), (?1, ?4, ?5)"
std::string repeat_rows(std::string_view row, size_t rows, int first);

// Calls run(offset, count) for consecutive batches that cover [0, n) exactly,
// each count one of kBatchSizes.
template <typename Run>
void for_each_batch(size_t n, Run&& run) {
  size_t at = 0;
  for (const size_t size : kBatchSizes) {
    while (n - at >= size) {
      run(at, size);
      at += size;
    }
  }
}

}  // namespace keywarden::sql
