// A small TCP server on 127.0.0.1 for tests of the libcurl senders: it listens on a free
// port and runs a handler per connection on its own thread. Test code only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mis_test {

// One accepted connection, with line and byte reading helpers.
class Connection {
public:
    explicit Connection(int fd) : fd_(fd) {}

    // Reads up to CRLF (excluded); false when the peer closed or `stop` was set.
    bool read_line(std::string &line, const std::atomic<bool> &stop) {
        while (true) {
            std::size_t end = buffer_.find("\r\n");
            if (end != std::string::npos) {
                line = buffer_.substr(0, end);
                buffer_.erase(0, end + 2);
                return true;
            }
            if (!fill(stop))
                return false;
        }
    }

    // Reads exactly `count` bytes.
    bool read_bytes(std::size_t count, std::string &data, const std::atomic<bool> &stop) {
        while (buffer_.size() < count)
            if (!fill(stop))
                return false;
        data = buffer_.substr(0, count);
        buffer_.erase(0, count);
        return true;
    }

    void write(const std::string &data) {
        std::size_t sent = 0;
        while (sent < data.size()) {
            ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
            if (n <= 0)
                return;
            sent += static_cast<std::size_t>(n);
        }
    }

private:
    bool fill(const std::atomic<bool> &stop) {
        while (!stop) {
            pollfd p{fd_, POLLIN, 0};
            int ready = ::poll(&p, 1, 50);
            if (ready < 0)
                return false;
            if (ready == 0)
                continue;
            char chunk[4096];
            ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n <= 0)
                return false;
            buffer_.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
        return false;
    }

    int fd_;
    std::string buffer_;
};

class LoopbackServer {
public:
    using Handler = std::function<void(Connection &, const std::atomic<bool> &stop)>;

    explicit LoopbackServer(Handler handler) : handler_(std::move(handler)) {
        listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
        int yes = 1;
        ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = 0;
        ::bind(listener_, reinterpret_cast<sockaddr *>(&address), sizeof address);
        ::listen(listener_, 16);
        socklen_t length = sizeof address;
        ::getsockname(listener_, reinterpret_cast<sockaddr *>(&address), &length);
        port_ = ntohs(address.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }

    ~LoopbackServer() {
        stop_ = true;
        acceptor_.join();
        for (std::thread &worker : workers_)
            worker.join();
        ::close(listener_);
    }

    int port() const { return port_; }
    int connections() const { return connections_; }

private:
    void accept_loop() {
        while (!stop_) {
            pollfd p{listener_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0)
                continue;
            int fd = ::accept(listener_, nullptr, nullptr);
            if (fd < 0)
                continue;
            connections_++;
            workers_.emplace_back([this, fd] {
                Connection connection(fd);
                handler_(connection, stop_);
                ::close(fd);
            });
        }
    }

    Handler handler_;
    int listener_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::thread acceptor_;
    std::vector<std::thread> workers_;
};

} // namespace mis_test
