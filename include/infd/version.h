/* Version of the infd client library and of the wire protocol it speaks. The
 * library version follows the project version; the protocol version is the
 * number a daemon must answer HELLO with for a connection to be accepted. */
#ifndef INFD_VERSION_H
#define INFD_VERSION_H

#define INFD_VERSION_MAJOR  0
#define INFD_VERSION_MINOR  1
#define INFD_VERSION_PATCH  0
#define INFD_VERSION_STRING "0.1.0"

/* The wire protocol version this header and library speak (protocol/PROTOCOL.md). */
#define INFD_PROTOCOL_VERSION 1

#endif
