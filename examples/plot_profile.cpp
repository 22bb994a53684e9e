// examples/plot_profile.cpp: draws a run's memory_profile.json as an SVG chart a person can
// look at: batch size and RSS against time, one panel each, with the batches as points.
//
//     plot_profile RUN_DIR/memory_profile.json [OUT.svg]      (default: beside the input)
//
//     plot_profile RECORD_DIR/latest/memory_profile.json    (the newest run of a record_dir)
//
// It reads the JSON Lines for_each_batch writes, one object per completed batch, with
// streambatch::read_memory_profile (runner/run_records.hpp), and needs no library besides fmt.
// Open the SVG in any browser. A run killed while writing its last line leaves it torn: that
// line is skipped, with a notice on stderr, and the rest is drawn. A directory, a missing or
// empty file, or a malformed line before the last is refused with a message naming the file
// (and the line and its byte offset) and exit status 1; a bad command line exits 2. It
// overwrites OUT.svg only when an earlier plot_profile wrote it.
//
// test-args: --self-test

#include <streambatch/runner/run_records.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
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

/// The batches of a memory_profile.json; a torn last line's notice goes to `notice`.
std::vector<point> read_profile(std::string const& path, std::string* notice = nullptr)
{
    auto const profile = streambatch::read_memory_profile(path);
    if (profile.samples.empty()) {
        if (profile.torn)
            throw std::runtime_error(profile.notice + "; nothing else to draw");
        if (std::filesystem::file_size(path) == 0)
            throw std::runtime_error(
                path + ": is empty; a run writes memory_profile.json when it has a record_dir");
        throw std::runtime_error(path + ": holds no batches; nothing to draw");
    }
    if (notice)
        *notice = profile.notice;
    std::vector<point> pts;
    for (auto const& b : profile.samples)
        pts.push_back({std::chrono::duration<double>(b.at).count(), double(b.size),
                       double(b.rss_bytes) / (1 << 20), b.used_fraction});
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
    std::string const line =
        "{\"index\": 0, \"size\": 1, \"rss_bytes\": 1, \"used_fraction\": 0.5, "
        "\"latency_ms\": 1.0, \"t_s\": 0.0}\n";
    {
        std::ofstream f(in);
        for (int i = 0; i < 50; ++i)
            f << "{\"index\": " << i << ", \"size\": " << (i < 25 ? 1000 : 500)
              << ", \"rss_bytes\": " << (5 << 20) + i * 4096
              << ", \"used_fraction\": 0.5, \"latency_ms\": 1.0, "
              << "\"t_s\": " << i * 0.01 << "}\n";
    }
    auto const pts = read_profile(in);
    std::string const s = render(pts, "self test");
    bool ok = pts.size() == 50 && pts[30].size == 500 && s.find("<svg") != std::string::npos &&
              s.find("</svg>") != std::string::npos && std::count(s.begin(), s.end(), '\n') > 20;
    // A torn last line (the run killed while writing it) is skipped, with a notice.
    std::ofstream(dir + "_torn.json") << line << line << "{\"index\": 2, \"size\": 1";
    std::string notice;
    ok = read_profile(dir + "_torn.json", &notice).size() == 2 && ok;
    ok = notice.find("_torn.json: skipped a torn last line (line 3, byte offset " +
                     std::to_string(2 * line.size()) + ")") != std::string::npos &&
         ok;
    // Refused, each with its reason.
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
    std::ofstream(dir + "_bad.json") << line << "{\"index\": 0, \"size\": oops}\n" << line;
    std::ofstream(dir + "_cut.json") << "{\"index\": 0, \"size\": 1";
    std::ofstream(dir + "_none.json") << "\n";
    std::filesystem::remove(dir + "_missing.json");
    ok = refused(dir + "_dir", "is a directory") && ok;
    ok = refused(dir + "_missing.json", "cannot open") && ok;
    ok = refused(dir + "_empty.json", "is empty") && ok;
    ok = refused(dir + "_bad.json",
                 "_bad.json:2 (byte offset " + std::to_string(line.size() + 21) + ")") &&
         ok;
    ok = refused(dir + "_cut.json", "skipped a torn last line (line 1, byte offset 0)") && ok;
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
    cli.app()
        .add_option("profile", in, "RUN_DIR/memory_profile.json (RECORD_DIR/latest/...)")
        ->type_name("FILE");
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
        std::string notice;
        auto const pts = read_profile(in, &notice);
        if (!notice.empty())
            std::fprintf(stderr, "plot_profile: %s\n", notice.c_str());
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
