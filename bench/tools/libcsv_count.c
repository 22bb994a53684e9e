/* bench/tools/libcsv_count.c: libcsv 3.0.3 (Debian libcsv-dev), for bench/tools/compare.sh.
 *
 *     libcsv_count FILE
 *
 * Feeds FILE to csv_parse (CSV_STRICT) in 64 KiB blocks read with read(2), as
 * sb_csv_count.cpp's reader reads it, and prints "rows=R fields=F bytes=B": the data rows
 * (the first row, the header, excluded), their fields and the sum of their byte lengths. */
#include <csv.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

struct counts {
    unsigned long long rows, fields, bytes; /* rows counts the header too */
};

static void on_field(void* data, size_t n, void* user)
{
    struct counts* c = user;
    (void)data;
    if (c->rows > 0) {
        ++c->fields;
        c->bytes += n;
    }
}

static void on_row(int term, void* user)
{
    (void)term;
    ++((struct counts*)user)->rows;
}

int main(int argc, char** argv)
{
    static char buf[64 << 10];
    struct csv_parser p;
    struct counts c = {0, 0, 0};
    int fd;
    ssize_t n;
    if (argc != 2) {
        fprintf(stderr, "usage: libcsv_count FILE\n");
        return 2;
    }
    fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    if (csv_init(&p, CSV_STRICT) != 0) {
        fprintf(stderr, "libcsv_count: csv_init failed\n");
        return 1;
    }
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        if (csv_parse(&p, buf, (size_t)n, on_field, on_row, &c) != (size_t)n) {
            fprintf(stderr, "libcsv_count: %s\n", csv_strerror(csv_error(&p)));
            return 1;
        }
    }
    if (n < 0) {
        perror(argv[1]);
        return 1;
    }
    csv_fini(&p, on_field, on_row, &c);
    csv_free(&p);
    close(fd);
    printf("rows=%llu fields=%llu bytes=%llu\n", c.rows ? c.rows - 1 : 0, c.fields, c.bytes);
    return 0;
}
