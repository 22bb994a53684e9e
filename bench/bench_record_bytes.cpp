// bench/bench_record_bytes.cpp: what streambatch::record_bytes costs on typical records, each
// next to the expression a user would write by hand for the same figure.
//
// Questions answered (per record; 1000 records of each shape, about 500 bytes each):
//   - record_struct:  bench::record {id, name, payload} through its ADL overload;
//   - tuple:          std::tuple<std::int64_t, std::string, std::string> (no overload needed);
//   - string_fields:  std::vector<std::string> of 10 fields (a CSV row);
//   - map_row:        std::map<std::string, std::string> of 10 columns (a row as a dict);
//   - *_handwritten:  sizeof + capacities summed by hand (the baseline).

#include <streambatch/record_bytes.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "bench_support.hpp"

namespace {

namespace sb = streambatch;

constexpr std::size_t count = 1000;

std::string payload(std::size_t i, std::size_t bytes)
{
    return bench::payload_pool().substr(bench::payload_offset(i), bytes);
}

using tuple_row = std::tuple<std::int64_t, std::string, std::string>;
using fields_row = std::vector<std::string>;
using map_row = std::map<std::string, std::string>;

std::vector<bench::record> const& structs()
{
    static auto const v = [] {
        std::vector<bench::record> out;
        for (std::size_t i = 0; i < count; ++i)
            out.push_back(bench::make_record(i));
        return out;
    }();
    return v;
}

std::vector<tuple_row> const& tuples()
{
    static auto const v = [] {
        std::vector<tuple_row> out;
        for (std::size_t i = 0; i < count; ++i)
            out.emplace_back(static_cast<std::int64_t>(i), "cust " + std::to_string(i),
                             payload(i, 450));
        return out;
    }();
    return v;
}

std::vector<fields_row> const& field_rows()
{
    static auto const v = [] {
        std::vector<fields_row> out;
        for (std::size_t i = 0; i < count; ++i) {
            fields_row row;
            for (std::size_t f = 0; f < 10; ++f)
                row.push_back(payload(i * 10 + f, f % 2 ? 8 : 80)); // short and long fields
            out.push_back(std::move(row));
        }
        return out;
    }();
    return v;
}

std::vector<map_row> const& map_rows()
{
    static auto const v = [] {
        std::vector<map_row> out;
        for (std::size_t i = 0; i < count; ++i) {
            map_row row;
            for (std::size_t f = 0; f < 10; ++f)
                row.emplace("column_" + std::to_string(f), payload(i * 10 + f, f % 2 ? 8 : 40));
            out.push_back(std::move(row));
        }
        return out;
    }();
    return v;
}

template <class Rows, class Weigh>
void weigh_all(benchmark::State& state, Rows const& rows, Weigh weigh)
{
    for (auto _ : state) {
        std::size_t sum = 0;
        for (auto const& r : rows)
            sum += weigh(r);
        benchmark::DoNotOptimize(sum);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * rows.size()));
    std::size_t total = 0;
    for (auto const& r : rows)
        total += weigh(r);
    state.counters["bytes_per_record"] = double(total) / double(rows.size());
}

std::size_t string_heap(std::string const& s)
{
    return s.capacity() > 15 ? s.capacity() + 1 : 0; // libstdc++: 15 chars fit in place
}

void bm_record_bytes_record_struct(benchmark::State& state)
{
    weigh_all(state, structs(), [](bench::record const& r) { return sb::record_bytes(r); });
}
void bm_record_bytes_record_struct_handwritten(benchmark::State& state)
{
    weigh_all(state, structs(), [](bench::record const& r) {
        return sizeof r + string_heap(r.name) + string_heap(r.payload);
    });
}
void bm_record_bytes_tuple(benchmark::State& state)
{
    weigh_all(state, tuples(), [](tuple_row const& r) { return sb::record_bytes(r); });
}
void bm_record_bytes_tuple_handwritten(benchmark::State& state)
{
    weigh_all(state, tuples(), [](tuple_row const& r) {
        return sizeof r + string_heap(std::get<1>(r)) + string_heap(std::get<2>(r));
    });
}
void bm_record_bytes_string_fields(benchmark::State& state)
{
    weigh_all(state, field_rows(), [](fields_row const& r) { return sb::record_bytes(r); });
}
void bm_record_bytes_string_fields_handwritten(benchmark::State& state)
{
    weigh_all(state, field_rows(), [](fields_row const& r) {
        std::size_t n = sizeof r + r.capacity() * sizeof(std::string);
        for (auto const& s : r)
            n += string_heap(s);
        return n;
    });
}
void bm_record_bytes_map_row(benchmark::State& state)
{
    weigh_all(state, map_rows(), [](map_row const& r) { return sb::record_bytes(r); });
}
void bm_record_bytes_map_row_handwritten(benchmark::State& state)
{
    weigh_all(state, map_rows(), [](map_row const& r) {
        std::size_t n = sizeof r + r.size() * (sizeof(map_row::value_type) + 4 * sizeof(void*));
        for (auto const& [k, v] : r)
            n += string_heap(k) + string_heap(v);
        return n;
    });
}

BENCHMARK(bm_record_bytes_record_struct);
BENCHMARK(bm_record_bytes_record_struct_handwritten);
BENCHMARK(bm_record_bytes_tuple);
BENCHMARK(bm_record_bytes_tuple_handwritten);
BENCHMARK(bm_record_bytes_string_fields);
BENCHMARK(bm_record_bytes_string_fields_handwritten);
BENCHMARK(bm_record_bytes_map_row);
BENCHMARK(bm_record_bytes_map_row_handwritten);

} // namespace
