#!/usr/bin/env python3
"""The body linetcp's HTTP server sends for server.http.body_size = N: byte i is
'a' + ((i ^ (i >> 7) ^ (i >> 13)) % 26), as app::pattern_byte in include/linetcp/app/servers.hpp.

Usage: pattern.py sha256 SIZE      prints the SHA-256 (hex) of the first SIZE bytes
       pattern.py write SIZE FILE  writes them to FILE
       pattern.py check            compares the fast generator with the formula on a prefix

Fast without numpy: i = 128*B + j (j < 128) gives i ^ (i >> 7) ^ (i >> 13) = H + (j ^ l), where
c = B ^ (B >> 6), l = c & 127 and H = (128*B) ^ (c & ~127) is a multiple of 128; so every aligned
128-byte block is one of 128 * 26 precomputed blocks, chosen by (l, H % 26).
"""
import hashlib
import sys

BLOCK = 128
A = ord("a")
TABLE = [[bytes(A + ((h + (j ^ l)) % 26) for j in range(BLOCK)) for h in range(26)] for l in range(BLOCK)]


def slow(offset, size):
    return bytes(A + ((i ^ (i >> 7) ^ (i >> 13)) % 26) for i in range(offset, offset + size))


def chunks(size, chunk_blocks=8192):
    """Yields the pattern's first SIZE bytes in pieces of up to chunk_blocks * 128 bytes."""
    full = size // BLOCK
    b = 0
    while b < full:
        end = min(full, b + chunk_blocks)
        parts = []
        for blk in range(b, end):
            c = blk ^ (blk >> 6)
            h = ((blk << 7) ^ (c & ~127)) % 26
            parts.append(TABLE[c & 127][h])
        yield b"".join(parts)
        b = end
    rest = size - full * BLOCK
    if rest:
        yield slow(full * BLOCK, rest)


def main(argv):
    if len(argv) >= 3 and argv[1] == "sha256":
        digest = hashlib.sha256()
        for piece in chunks(int(argv[2])):
            digest.update(piece)
        print(digest.hexdigest())
    elif len(argv) >= 4 and argv[1] == "write":
        with open(argv[3], "wb") as out:
            for piece in chunks(int(argv[2])):
                out.write(piece)
    elif len(argv) >= 2 and argv[1] == "check":
        for size in (0, 1, 127, 128, 129, 1000, 1 << 16, (1 << 20) + 77):
            assert b"".join(chunks(size)) == slow(0, size), size
        print("ok")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
