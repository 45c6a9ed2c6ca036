// The startup phase against hostile clients: encryption requests with bytes pipelined behind them.
#include <poll.h>
#include <sys/socket.h>

#include "harness.hpp"

using namespace pgroute::it;

namespace {

constexpr std::uint32_t kSslRequestCode = 80877103;
constexpr std::uint32_t kGssEncRequestCode = 80877104;

std::string encryption_request(std::uint32_t code) {
    std::string m;
    put_u32(m, 8);
    put_u32(m, code);
    return m;
}

// The one-byte answer to an encryption request ('S', 'G' or 'N'); 0 on EOF or timeout.
char read_one_byte(RawClient& raw, std::chrono::milliseconds timeout = 5s) {
    pollfd p{raw.fd(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return 0;
    char c = 0;
    return ::recv(raw.fd(), &c, 1, 0) == 1 ? c : 0;
}

// Typed backend messages in `bytes` (a trailing partial message is dropped).
std::vector<BackendMessage> split_messages(std::string_view bytes) {
    std::vector<BackendMessage> out;
    while (bytes.size() >= 5) {
        const std::uint32_t len = get_u32(bytes.substr(1));
        if (len < 4 || bytes.size() < 1 + len) break;
        out.push_back({bytes[0], std::string(bytes.substr(5, len - 4))});
        bytes.remove_prefix(1 + len);
    }
    return out;
}

}  // namespace

TEST_CASE("startup: bytes pipelined after SSLRequest or GSSENCRequest end the connection with 08P01") {
    Proxy proxy(default_proxy_config());
    for (std::uint32_t code : {kSslRequestCode, kGssEncRequestCode}) {
        INFO("request code " << code);
        // A trust user: a startup read after the request would log straight in.
        RawClient raw(proxy.port());
        raw.send(encryption_request(code) + startup_message({{"user", kProxyTrustUser}, {"database", "app"}}));
        auto bytes = raw.read_until_closed(5s);
        REQUIRE(bytes);  // closed, not waiting for more
        REQUIRE(!bytes->empty());
        CHECK((*bytes)[0] == 'N');
        auto messages = split_messages(std::string_view(*bytes).substr(1));
        REQUIRE(messages.size() == 1);  // no authentication request, no login
        CHECK(messages[0].type == 'E');
        auto fields = error_fields(messages[0].body);
        CHECK(fields['C'] == "08P01");
        CHECK(fields['V'] == "FATAL");
        CHECK(fields['M'].find("unencrypted data after") != std::string::npos);
    }
    {
        INFO("the request answered first, then the startup (what libpq with sslmode=prefer does)");
        RawClient raw(proxy.port());
        raw.send(encryption_request(kSslRequestCode));
        CHECK(read_one_byte(raw) == 'N');
        auto got = raw.startup_trust(kProxyTrustUser, "app");
        CHECK(got.back().type == 'Z');
    }
    CHECK(proxy.connect(kProxyUser, kProxyPassword, "app", {{"sslmode", "prefer"}}).scalar("SELECT 'ssl prefer'") ==
          "ssl prefer");
    CHECK(proxy.connect(kProxyUser, kProxyPassword, "app", {{"gssencmode", "prefer"}, {"sslmode", "prefer"}})
              .scalar("SELECT 'gss prefer'") == "gss prefer");
}
