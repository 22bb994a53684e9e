// parquet::value_type_of: what a column's values mean. A legacy converted type alone
// (TIME_MILLIS, TIME_MICROS, TIMESTAMP_MILLIS, TIMESTAMP_MICROS, as hyparquet-writer writes
// them) reads as a local time or timestamp, as DuckDB and Arrow read it (found by
// oracle/test_written_files.cpp: we printed "+00" where DuckDB does not); a logical type's
// isAdjustedToUTC is kept.

#include <streambatch/io/parquet/reader.hpp>

#include <catch2/catch.hpp>

#include <tuple>

namespace pq = streambatch::parquet;

TEST_CASE(
    "value_type_of: converted TIME_*/TIMESTAMP_* are local, logical types keep their UTC flag",
    "[parquet][reader]")
{
    using C = pq::converted_type;
    for (auto const& [ct, meaning, unit] :
         {std::tuple{C::time_millis, pq::value_meaning::time, pq::time_unit::millis},
          std::tuple{C::time_micros, pq::value_meaning::time, pq::time_unit::micros},
          std::tuple{C::timestamp_millis, pq::value_meaning::timestamp, pq::time_unit::millis},
          std::tuple{C::timestamp_micros, pq::value_meaning::timestamp, pq::time_unit::micros}}) {
        pq::column_descriptor c;
        c.type = ct == C::time_millis ? pq::physical_type::int32 : pq::physical_type::int64;
        c.converted_type = ct;
        pq::value_type const v = pq::value_type_of(c);
        CHECK(v.meaning == meaning);
        CHECK(v.unit == unit);
        CHECK_FALSE(v.utc);

        // the same with a logical type: its flag decides
        for (bool const utc : {true, false}) {
            pq::logical_type l;
            l.kind = meaning == pq::value_meaning::time ? pq::logical_type::kind_t::time
                                                        : pq::logical_type::kind_t::timestamp;
            l.unit = unit;
            l.is_adjusted_to_utc = utc;
            c.logical_type = l;
            CHECK(pq::value_type_of(c).utc == utc);
        }
    }
}
