// 4. COPY in both directions through the proxy, byte-compared with COPY straight from the server.
#include "harness.hpp"

using namespace pgroute::it;

namespace {

void copy_in(Conn& c, const std::string& sql, const std::string& data, const char* fail = nullptr) {
    if (!PQsendQuery(c.raw(), sql.c_str())) throw PgError("", "", PQerrorMessage(c.raw()));
    ResultPtr start = c.next_result();
    throw_if_error(start.get(), c.raw());
    if (PQresultStatus(start.get()) != PGRES_COPY_IN) throw PgError("", "", "no CopyInResponse");
    constexpr std::size_t kChunk = 64 * 1024;
    for (std::size_t pos = 0; pos < data.size(); pos += kChunk) {
        const std::size_t n = std::min(kChunk, data.size() - pos);
        if (PQputCopyData(c.raw(), data.data() + pos, static_cast<int>(n)) != 1)
            throw PgError("", "", PQerrorMessage(c.raw()));
    }
    if (PQputCopyEnd(c.raw(), fail) != 1) throw PgError("", "", PQerrorMessage(c.raw()));
    std::optional<PgError> error;
    while (ResultPtr r = c.next_result()) {
        try {
            throw_if_error(r.get(), c.raw());
        } catch (const PgError& e) {
            if (!error) error = e;
        }
    }
    if (error) throw *error;
}

std::string copy_out(Conn& c, const std::string& sql) {
    if (!PQsendQuery(c.raw(), sql.c_str())) throw PgError("", "", PQerrorMessage(c.raw()));
    ResultPtr start = c.next_result();
    throw_if_error(start.get(), c.raw());
    if (PQresultStatus(start.get()) != PGRES_COPY_OUT) throw PgError("", "", "no CopyOutResponse");
    std::string out;
    for (;;) {
        char* buf = nullptr;
        const int n = PQgetCopyData(c.raw(), &buf, /*async=*/1);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
            PQfreemem(buf);
        } else if (n == 0) {
            c.wait_input();
        } else {
            break;  // -1: done, -2: error (reported by the result below)
        }
    }
    while (ResultPtr r = c.next_result()) throw_if_error(r.get(), c.raw());
    return out;
}

std::string md5_of(const std::string& bytes) {
    RunResult r = run({"md5sum"}, {.stdin_data = bytes});
    if (r.exit_code != 0) throw std::runtime_error("md5sum failed: " + r.describe());
    return r.out.substr(0, 32);
}

}  // namespace

TEST_CASE("proxy: COPY FROM STDIN of 100000 rows and COPY TO STDOUT are byte-exact") {
    Proxy proxy(default_proxy_config());
    Conn c = proxy.connect();
    c.exec("DROP TABLE IF EXISTS it_copy");
    c.exec("CREATE TABLE it_copy (id int, payload text, note text)");

    std::string data;
    for (int i = 1; i <= 100000; ++i)
        data += std::to_string(i) + "\tpayload-" + std::to_string(i * 7919 % 100003) +
                (i % 10 == 0 ? "\t\\N\n" : "\tnote with spaces and \\t tab\n");
    copy_in(c, "COPY it_copy FROM STDIN", data);
    CHECK(c.transaction_status() == PQTRANS_IDLE);
    CHECK(c.scalar("SELECT 'after copy in'") == "after copy in");

    Conn direct(first_cluster().params(kAppUser, kAppPassword));
    CHECK(direct.scalar("SELECT count(*) FROM it_copy") == "100000");

    const std::string via_proxy = copy_out(c, "COPY it_copy TO STDOUT");
    const std::string from_server = copy_out(direct, "COPY it_copy TO STDOUT");
    CHECK(via_proxy.size() == from_server.size());
    CHECK(md5_of(via_proxy) == md5_of(from_server));
    // Heap order is not insertion order (bulk COPY fills pages out of order): sort to compare.
    CHECK(md5_of(copy_out(c, "COPY (SELECT * FROM it_copy ORDER BY id) TO STDOUT")) == md5_of(data));
    CHECK(c.scalar("SELECT 'after copy out'") == "after copy out");

    // CopyFail from the client: the COPY fails, nothing is inserted, the connection goes on.
    PgError failed = expect_pg_error([&] { copy_in(c, "COPY it_copy FROM STDIN", "1\ta\tb\n", "client gave up"); });
    INFO(failed.what());
    CHECK(failed.sqlstate == "57014");
    CHECK(c.transaction_status() == PQTRANS_IDLE);
    CHECK(c.scalar("SELECT count(*) FROM it_copy") == "100000");

    // Bad data: the server's error reaches the client and the connection stays usable.
    PgError bad = expect_pg_error([&] { copy_in(c, "COPY it_copy FROM STDIN", "not-a-number\tx\ty\n"); });
    CHECK(bad.sqlstate == "22P02");
    CHECK(c.scalar("SELECT count(*) FROM it_copy") == "100000");
}
