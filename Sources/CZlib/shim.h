#ifndef TIMEKEEPER_CZLIB_SHIM_H
#define TIMEKEEPER_CZLIB_SHIM_H

#include <zlib.h>

/// zlib's `inflateInit2` is a macro, which Swift cannot call.
static inline int timekeeper_inflateInit2(z_streamp stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}

/// The same for `deflateInit2` (the tests compress their own requests).
static inline int timekeeper_deflateInit2(z_streamp stream, int level, int windowBits) {
    return deflateInit2(stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
}

#endif
