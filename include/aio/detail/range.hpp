// aio/detail/range.hpp - the range concepts that aio's functions over ranges take, spelled with
// <iterator> alone.
#pragma once

#include <iterator>
#include <utility>

// <ranges> costs every file that includes it about a third of a second of compile time (more
// than any header of aio's), and aio needs none of its views: only what a range is. These are
// std::ranges' definitions, on the range access objects that <iterator> also provides.

namespace aio::detail {

/// std::ranges::iterator_t.
template <class R>
using range_iterator_t = decltype(std::ranges::begin(std::declval<R&>()));

/// std::ranges::input_range: begin and end, and an input iterator.
template <class R>
concept input_range = requires(R& r) {
    std::ranges::begin(r);
    std::ranges::end(r);
}
&&std::input_iterator<range_iterator_t<R>>;

/// std::ranges::range_value_t.
template <input_range R>
using range_value_t = std::iter_value_t<range_iterator_t<R>>;

/// std::ranges::sized_range.
template <class R>
concept sized_range = input_range<R> && requires(R& r) {
    std::ranges::size(r);
};

} // namespace aio::detail
