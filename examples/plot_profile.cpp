// examples/plot_profile.cpp: draws a run's memory_profile.json as an SVG chart a person can
// look at: batch size and RSS against time, one panel each, with the batches as points.
//
//     plot_profile RUN_DIR/memory_profile.json [OUT.svg]      (default: beside the input)
//
// It reads the one-object-per-line format for_each_batch writes (metrics.hpp) and needs no
// library. Open the SVG in any browser.
//
// test-args: --self-test

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct point {
    double t = 0, size = 0, rss_mib = 0, used = 0;
};

std::vector<point> read_profile(std::string const& path)
{
    std::ifstream in(path);
    if (!in)
        throw std::runtime_error(path + ": cannot open");
    std::vector<point> pts;
    std::string line;
    int line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.find("\"index\"") == std::string::npos)
            continue;
        unsigned long long index = 0, size = 0, rss = 0;
        double used = 0, latency = 0, t = 0;
        if (std::sscanf(line.c_str(),
                        " {\"index\": %llu, \"size\": %llu, \"rss_bytes\": %llu, \"used_fraction\": %lf, "
                        "\"latency_ms\": %lf, \"t_s\": %lf}",
                        &index, &size, &rss, &used, &latency, &t) != 6)
            throw std::runtime_error(path + ":" + std::to_string(line_no) +
                                     ": expected a batch object with index, size, rss_bytes, used_fraction, "
                                     "latency_ms and t_s");
        pts.push_back({t, double(size), double(rss) / (1 << 20), used});
    }
    return pts;
}

std::string fmt(double v)
{
    char b[32];
    std::snprintf(b, sizeof b, v >= 100 ? "%.0f" : "%.2g", v);
    return b;
}

/// One panel: a polyline of y against t, with axes and labels.
void panel(std::ostringstream& svg, std::vector<point> const& pts, double point::*y, std::string const& title,
           std::string const& colour, int top)
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
        svg << "<text x='" << left - 6 << "' y='" << yy + 4 << "' font-size='11' text-anchor='end'>" << fmt(v)
            << "</text>\n";
        double const tv = tmax * i / 4;
        int const xx = left + width * i / 4;
        svg << "<text x='" << xx << "' y='" << top + height + 14 << "' font-size='11' text-anchor='middle'>"
            << fmt(tv) << " s</text>\n";
    }
    svg << "<polyline fill='none' stroke='" << colour << "' stroke-width='1.5' points='";
    for (auto const& p : pts)
        svg << left + width * p.t / tmax << "," << top + height - height * (p.*y) / ymax << " ";
    svg << "'/>\n";
}

std::string render(std::vector<point> const& pts, std::string const& name)
{
    std::ostringstream svg;
    svg << "<?xml version='1.0' encoding='UTF-8'?>\n"
        << "<svg xmlns='http://www.w3.org/2000/svg' width='860' height='600' font-family='sans-serif'>\n"
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
              << ", \"rss_bytes\": " << (5 << 20) + i * 4096 << ", \"used_fraction\": 0.5, \"latency_ms\": 1.0, "
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
    std::puts(ok ? "plot_profile self-test passed" : "plot_profile self-test FAILED");
    return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc >= 2 && std::string(argv[1]) == "--self-test")
        return self_test();
    if (argc < 2 || std::string(argv[1]) == "--help") {
        std::fputs("usage: plot_profile RUN_DIR/memory_profile.json [OUT.svg]\n", argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    try {
        std::string const in = argv[1];
        std::string out = argc > 2 ? argv[2] : in.substr(0, in.rfind('.')) + ".svg";
        auto const pts = read_profile(in);
        std::ofstream(out) << render(pts, in);
        std::printf("%s: %zu batches -> %s\n", in.c_str(), pts.size(), out.c_str());
    } catch (std::exception const& e) {
        std::fprintf(stderr, "plot_profile: %s\n", e.what());
        return 1;
    }
    return 0;
}
