// 2. Named prepared statements in transaction mode: many clients, few server connections.
#include <atomic>
#include <thread>

#include "harness.hpp"

using namespace pgroute::it;

TEST_CASE("proxy: named prepared statements survive transaction pooling (8 clients, pool of 2)") {
    ProxyConfig cfg = default_proxy_config();
    cfg.pool_size = 2;
    Proxy proxy(cfg);

    constexpr int kThreads = 8;
    constexpr int kTransactions = 100;
    std::vector<Conn> conns;
    for (int t = 0; t < kThreads; ++t) conns.push_back(proxy.connect());

    ThreadErrors errors;
    std::atomic<int> right{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            Conn& c = conns[static_cast<std::size_t>(t)];
            try {
                // Every client uses the same statement name for a different text: the proxy
                // must keep them apart on the shared server connections.
                c.prepare("stmt", "SELECT $1::int * 1000 + " + std::to_string(t) + ", 'thread " +
                                      std::to_string(t) + "'",
                          1);
                if (!PQsendDescribePrepared(c.raw(), "stmt")) throw PgError("", "", "describe");
                ResultPtr d = c.next_result();
                throw_if_error(d.get(), c.raw());
                if (PQnparams(d.get()) != 1 || PQnfields(d.get()) != 2)
                    errors.add("thread " + std::to_string(t) + ": wrong description");
                while (c.next_result()) {
                }
                for (int i = 0; i < kTransactions; ++i) {
                    c.exec("BEGIN");
                    Rows r = c.exec_prepared("stmt", {std::to_string(i)});
                    c.exec("COMMIT");
                    const std::string want = std::to_string(i * 1000 + t);
                    if (r.size() == 1 && r.at(0, 0) == want &&
                        r.at(0, 1) == "thread " + std::to_string(t))
                        ++right;
                    else
                        errors.add("thread " + std::to_string(t) + " txn " + std::to_string(i) +
                                   ": wrong result");
                }
            } catch (const std::exception& e) {
                errors.add("thread " + std::to_string(t) + ": " + e.what());
            }
        });
    }
    for (auto& th : threads) th.join();
    INFO(errors.summary());
    CHECK(errors.list().empty());
    CHECK(right.load() == kThreads * kTransactions);
    // The statements are still there for a later transaction.
    CHECK(conns[3].exec_prepared("stmt", {"7"}).at(0, 0) == "7003");
}
