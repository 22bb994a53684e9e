// examples/plot_profile.cpp: draws a run's memory_profile.json as an SVG chart a person can
// look at: batch size and RSS against time, one panel each, with the batches as points.
//
//     plot_profile RUN_DIR/memory_profile.json [OUT.svg]      (default: beside the input)
//
// It reads the one-object-per-line format for_each_batch writes (runner/run_records.hpp) and
// needs no library besides fmt. Open the SVG in any browser. A directory, a missing or empty
// file, a torn one (a run killed before it closed the array) or a malformed line is refused
// with a message naming the file (and line) and exit status 1; a bad command line exits 2.
// It overwrites OUT.svg only when an earlier plot_profile wrote it.
//
// test-args: --self-test

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/args.hpp"

namespace {

struct point {
    double t = 0, size = 0, rss_mib = 0, used = 0;
};

std::vector<point> read_profile(std::string const& path)
{
    if (std::filesystem::is_directory(path))
        throw std::runtime_error(path + ": is a directory; give the memory_profile.json in it");
    std::ifstream in(path);
    if (!in)
        throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
    std::vector<point> pts;
    std::string line;
    int line_no = 0;
    bool opened = false, closed = false;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        if (closed)
            throw std::runtime_error(path + ":" + std::to_string(line_no) +
                                     ": text after the closing ']'");
        if (!opened) {
            if (line != "[")
                throw std::runtime_error(path + ":" + std::to_string(line_no) +
                                         ": expected '[', the start of a memory_profile.json");
            opened = true;
            continue;
        }
        if (line == "]") {
            closed = true;
            continue;
        }
        unsigned long long index = 0, size = 0, rss = 0;
        double used = 0, latency = 0, t = 0;
        bool const whole = line.ends_with("}") || line.ends_with("},");
        if (!whole ||
            std::sscanf(
                line.c_str(),
                " {\"index\": %llu, \"size\": %llu, \"rss_bytes\": %llu, \"used_fraction\": %lf, "
                "\"latency_ms\": %lf, \"t_s\": %lf}",
                &index, &size, &rss, &used, &latency, &t) != 6)
            throw std::runtime_error(
                path + ":" + std::to_string(line_no) +
                ": expected a batch object with index, size, rss_bytes, used_fraction, "
                "latency_ms and t_s");
        pts.push_back({t, double(size), double(rss) / (1 << 20), used});
    }
    if (!opened)
        throw std::runtime_error(
            path + ": is empty; a run writes memory_profile.json when it has a record_dir");
    if (!closed)
        throw std::runtime_error(
            path + ":" + std::to_string(line_no) +
            ": torn: the file ends without the closing ']' (was the run killed?)");
    if (pts.empty())
        throw std::runtime_error(path + ": holds no batches; nothing to draw");
    return pts;
}

std::string tick_label(double v)
{
    char b[32];
    std::snprintf(b, sizeof b, v >= 100 ? "%.0f" : "%.2g", v);
    return b;
}

/// One panel: a polyline of y against t, with axes and labels.
void panel(std::ostringstream& svg, std::vector<point> const& pts, double point::*y,
           std::string const& title, std::string const& colour, int top)
{
    int const left = 70, width = 760, height = 220;
    double tmax = 0, ymax = 0;
    for (auto const& p : pts) {
        tmax = std::max(tmax, p.t);
        ymax = std::max(ymax, p.*y);
    }
    tmax = tmax > 0 ? tmax : 1;
    ymax = ymax > 0 ? ymax * 1.1 : 1;
    svg << "<text x='" << left << "' y='" << top - 8 << "' font-size='14'>" << title << "</text>\n";
    svg << "<rect x='" << left << "' y='" << top << "' width='" << width << "' height='" << height
        << "' fill='none' stroke='#888'/>\n";
    for (int i = 0; i <= 4; ++i) {
        double const v = ymax * i / 4;
        int const yy = top + height - height * i / 4;
        svg << "<text x='" << left - 6 << "' y='" << yy + 4 << "' font-size='11' text-anchor='end'>"
            << tick_label(v) << "</text>\n";
        double const tv = tmax * i / 4;
        int const xx = left + width * i / 4;
        svg << "<text x='" << xx << "' y='" << top + height + 14
            << "' font-size='11' text-anchor='middle'>" << tick_label(tv) << " s</text>\n";
    }
    svg << "<polyline fill='none' stroke='" << colour << "' stroke-width='1.5' points='";
    for (auto const& p : pts)
        svg << left + width * p.t / tmax << "," << top + height - height * (p.*y) / ymax << " ";
    svg << "'/>\n";
}

/// The second line of every SVG this writes: it overwrites only files that carry it.
constexpr char const* marker = "<!-- drawn by streambatch examples/plot_profile -->";

bool ours_or_absent(std::string const& path)
{
    std::ifstream f(path);
    if (!f)
        return !std::filesystem::exists(path);
    std::string first, second;
    std::getline(f, first);
    std::getline(f, second);
    return second == marker;
}

std::string render(std::vector<point> const& pts, std::string const& name)
{
    std::ostringstream svg;
    svg << "<?xml version='1.0' encoding='UTF-8'?>\n"
        << marker << "\n"
        << "<svg xmlns='http://www.w3.org/2000/svg' width='860' height='600' "
           "font-family='sans-serif'>\n"
        << "<rect width='100%' height='100%' fill='white'/>\n"
        << "<text x='70' y='24' font-size='16' font-weight='bold'>" << name << ": " << pts.size()
        << " batches</text>\n";
    panel(svg, pts, &point::size, "batch size (records)", "#1f77b4", 60);
    panel(svg, pts, &point::rss_mib, "RSS (MiB)", "#d62728", 340);
    svg << "</svg>\n";
    return svg.str();
}

int self_test()
{
    std::string const dir = "plot_self_test";
    std::string const in = dir + ".json";
    {
        std::ofstream f(in);
        f << "[\n";
        for (int i = 0; i < 50; ++i)
            f << (i ? ",\n" : "") << "{\"index\": " << i << ", \"size\": " << (i < 25 ? 1000 : 500)
              << ", \"rss_bytes\": " << (5 << 20) + i * 4096
              << ", \"used_fraction\": 0.5, \"latency_ms\": 1.0, "
              << "\"t_s\": " << i * 0.01 << "}";
        f << "\n]\n";
    }
    auto const pts = read_profile(in);
    std::string const s = render(pts, "self test");
    bool ok = pts.size() == 50 && pts[30].size == 500 && s.find("<svg") != std::string::npos &&
              s.find("</svg>") != std::string::npos && std::count(s.begin(), s.end(), '\n') > 20;
    {
        std::ofstream bad(dir + "_bad.json");
        bad << "[\n{\"index\": 0, \"size\": oops}\n]\n";
    }
    try {
        read_profile(dir + "_bad.json");
        ok = false;
    } catch (std::exception const& e) {
        ok = ok && std::string(e.what()).find("_bad.json:2") != std::string::npos;
    }
    // Refused, each with its reason: a directory, a missing, an empty and a torn file.
    auto refused = [](std::string const& file, std::string const& reason) {
        try {
            read_profile(file);
        } catch (std::exception const& e) {
            if (std::string(e.what()).find(reason) != std::string::npos)
                return true;
            std::fprintf(stderr, "self-test: %s: wrong message: %s\n", file.c_str(), e.what());
            return false;
        }
        std::fprintf(stderr, "self-test: %s was not refused\n", file.c_str());
        return false;
    };
    std::filesystem::create_directories(dir + "_dir");
    std::ofstream(dir + "_empty.json").flush();
    std::ofstream(dir + "_torn.json")
        << "[\n{\"index\": 0, \"size\": 1, \"rss_bytes\": 1, \"used_fraction\": 0.5, "
           "\"latency_ms\": 1.0, \"t_s\": 0.0},\n";
    std::ofstream(dir + "_cut.json")
        << "[\n{\"index\": 0, \"size\": 1, \"rss_bytes\": 1, \"used_fraction\": 0.5, "
           "\"latency_ms\": 1.0, \"t_s\": 0.0";
    std::ofstream(dir + "_none.json") << "[\n]\n";
    std::filesystem::remove(dir + "_missing.json");
    ok = refused(dir + "_dir", "is a directory") && ok;
    ok = refused(dir + "_missing.json", "cannot open") && ok;
    ok = refused(dir + "_empty.json", "is empty") && ok;
    ok = refused(dir + "_torn.json", "_torn.json:2: torn") && ok;
    ok = refused(dir + "_cut.json", "_cut.json:2: expected a batch object") && ok;
    ok = refused(dir + "_none.json", "no batches") && ok;
    std::puts(ok ? "plot_profile self-test passed" : "plot_profile self-test FAILED");
    return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
    examples::command_line cli("plot_profile",
                               "Draws a run's memory_profile.json as an SVG chart.");
    std::string in, out;
    bool test = false;
    cli.app().add_option("profile", in, "RUN_DIR/memory_profile.json")->type_name("FILE");
    cli.app()
        .add_option("out", out, "the SVG to write (default: beside the input, .svg)")
        ->type_name("OUT.svg");
    cli.flag("--self-test", test,
             "check the reader and the drawing on files of its own, then exit");
    cli.parse(argc, argv);
    if (test)
        return self_test();
    if (in.empty())
        cli.fail("give RUN_DIR/memory_profile.json (see --help)");
    if (out.empty())
        out = in.substr(0, in.rfind('.')) + ".svg";
    try {
        auto const pts = read_profile(in);
        if (!ours_or_absent(out))
            throw std::runtime_error(
                out + " exists and plot_profile did not draw it: not overwriting it");
        std::ofstream file(out);
        file << render(pts, in);
        if (!file.flush())
            throw std::runtime_error(out + ": cannot write");
        fmt::print("{}: {} batches -> {}\n", in, pts.size(), out);
    } catch (std::exception const& e) {
        std::fprintf(stderr, "plot_profile: %s\n", e.what());
        return 1;
    }
    return 0;
}
