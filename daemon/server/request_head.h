// What the HTTP server makes of a request's head before it reads the body:
// whether the body's framing can be trusted, and the Request a HeaderCheck
// and a Handler see. No I/O, so that fuzz/http_head_fuzz.cc can run it on
// any bytes, as Beast's parser hands them over in the server.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/server/http_server.h"

namespace keywarden::server {

// Judges a request's Transfer-Encoding against RFC 9112 §6.1 and §6.3.
// Returns 0 when the body's framing is unambiguous (no Transfer-Encoding, or
// exactly "chunked" on HTTP/1.1 without Content-Length), else the status to
// answer before closing: 400 when the body's length cannot be known (final
// coding not chunked, chunked twice, Transfer-Encoding with Content-Length or
// on HTTP/1.0), 501 for a coding before chunked that we do not decode (gzip,
// chunked). Beast alone reads "Transfer-Encoding: gzip" as an empty body and
// accepts "gzip" followed by a Content-Length, which lets the rest of the
// bytes pass as the next request.
int transfer_encoding_verdict(const boost::beast::http::request_header<>& head);

// The request without its body (which may not have been read yet): method,
// target, path and query (an absolute-form target is cut to its path),
// header names lower-cased and repeated fields joined with ", ".
Request request_of_head(const boost::beast::http::request_header<>& head, std::string remote_address, bool tls);

}  // namespace keywarden::server
