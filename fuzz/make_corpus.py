#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/stream_reader.cpp into fuzz/corpus/stream_reader/.

Each seed is one scenario in the target's input format (see the comment at the top of
stream_reader.cpp): a limit, the chunk sizes, a script of calls, the payload. Run it again after
changing the format; files it did not write (inputs that once crashed) are left alone.
"""

import pathlib

READ_N, READ_ALL, READLINE, READEXACTLY, READUNTIL, READUNTIL_ANY, AT_EOF, CONSUME, CANCELLED = range(9)


def read_n(n):
    return bytes([READ_N, n])


def read_all():
    return bytes([READ_ALL])


def readline():
    return bytes([READLINE])


def readexactly(n):
    return bytes([READEXACTLY, n])


def sep(s):
    assert len(s) < 4
    return bytes([len(s)]) + s


def readuntil(s):
    return bytes([READUNTIL]) + sep(s)


def readuntil_any(*seps):
    assert len(seps) < 4
    return bytes([READUNTIL_ANY, len(seps)]) + b"".join(sep(s) for s in seps)


def at_eof():
    return bytes([AT_EOF])


def consume(n):
    return bytes([CONSUME, n])


def cancelled(call):
    """The call, in a task of its own cancelled after one turn of the loop."""
    return bytes([CANCELLED]) + call


def scenario(limit, chunk_sizes, calls, payload, abandon=False):
    """abandon: the reader is dropped after the script instead of reading the rest."""
    assert 1 <= limit <= 64 and all(1 <= n <= 256 for n in chunk_sizes)
    return (
        bytes([(limit - 1) | (0x80 if abandon else 0), len(chunk_sizes)])
        + bytes(n - 1 for n in chunk_sizes)
        + bytes([len(calls)])
        + b"".join(calls)
        + payload
    )


SEEDS = {
    # Found by the fuzzer: a read of the socket left in flight by a cancelled call, with the
    # buffer emptied under it, got stale bytes instead of the ones it brought.
    "cancelled_then_emptied": scenario(16, [3], [cancelled(readline()), cancelled(readline()),
                                                 read_n(3), read_all()], b"abcXYZ"),
    # Each call kind on lines that fit the limit, one chunk per line.
    "lines": scenario(16, [6], [readline(), readline(), at_eof(), readline(), read_all()],
                      b"hello\nworld\nend\n"),
    "read_n": scenario(8, [3, 5], [read_n(2), read_n(10), read_n(0), read_n(4)], b"abcdefghijkl"),
    "read_all": scenario(4, [1], [read_n(1), read_all(), at_eof()], b"a\nb\nc\n"),
    "readexactly": scenario(4, [2, 7], [readexactly(5), readexactly(0), readexactly(40)],
                            b"0123456789abcdefghij"),
    "readuntil": scenario(8, [4], [readuntil(b"|"), readuntil(b"<E>"), readuntil(b"|")],
                          b"ab|cdef<E>gh|ij"),
    # Several separators, one of them split across two chunks.
    "readuntil_any": scenario(16, [5, 1, 3],
                              [readuntil_any(b"\r\n", b"\n", b"x"), readuntil_any(b"ab", b"b"),
                               readuntil_any(b"\r\n", b"|"), read_all()],
                              b"one\r\ntwo\nthree|abyz\r\n"),
    "consume": scenario(8, [4], [read_n(1), consume(2), consume(9), readline(), consume(0)],
                        b"abcdef\nghij"),
    # A line longer than the limit: readuntil leaves it, readline drops it.
    "limit_overrun": scenario(4, [3], [readuntil(b"\n"), readline(), readline(), readuntil(b"\n"),
                                       consume(8), read_all()],
                              b"aaaaaaaaaa\nok\nbbbbbbbbbbbbbb\ncc\n"),
    # Separator found past the limit within one chunk, and not found within the limit.
    "limit_found_late": scenario(4, [20], [readuntil(b"\n"), consume(9), readline()],
                                 b"abcdefgh\nxy\n"),
    "readline_drops_line": scenario(4, [20], [readline(), readline(), readline()],
                                    b"abcdefgh\nxy\nlonger line\n"),
    "limit_not_found": scenario(4, [2], [readuntil(b"\n"), readline(), read_all()],
                                b"abcdefghijkl\nmn\n"),
    # EOF in the middle of a line, of a readexactly and of a readuntil.
    "eof_mid_line": scenario(32, [4], [readline(), readline(), readline(), at_eof()],
                             b"first\nno newline"),
    "eof_mid_readexactly": scenario(8, [3], [readexactly(4), readexactly(9), at_eof()],
                                    b"abcdefgh"),
    "eof_mid_readuntil": scenario(8, [1], [readuntil(b"ab"), readuntil_any(b"zz", b"yy"),
                                           readuntil(b"ab")], b"xxab123"),
    # at_eof before anything arrived, between chunks, at the end; an empty payload.
    "at_eof": scenario(8, [2], [at_eof(), read_n(2), at_eof(), read_n(2), at_eof(), read_n(1),
                                at_eof()], b"abcd"),
    "empty": scenario(1, [], [at_eof(), readline(), read_n(5), readexactly(1), at_eof()], b""),
    # Calls cancelled while they wait for bytes (or after they ended): nothing is lost.
    "cancelled": scenario(16, [4], [cancelled(readline()), readline(), cancelled(readexactly(9)),
                                    read_n(3), cancelled(read_n(2)), cancelled(at_eof()),
                                    cancelled(readuntil(b"q")), read_all()],
                          b"abcdefg\nhijklmnopqrstu"),
    "cancelled_at_eof": scenario(8, [3], [read_n(3), cancelled(read_all()), at_eof(),
                                          cancelled(readline()), readline(), at_eof()],
                                 b"abcdef"),
    # The reader dropped while a cancelled call's read of the socket is in flight.
    "abandoned": scenario(8, [5], [read_n(2), cancelled(readexactly(20))], b"0123456789abcdef",
                          abandon=True),
    # Empty separators and lists are refused.
    "invalid_separator": scenario(8, [4], [readuntil(b""), readuntil_any(), readuntil_any(b"a", b""),
                                           readline()], b"abc\n"),
}


def main():
    out = pathlib.Path(__file__).resolve().parent / "corpus" / "stream_reader"
    out.mkdir(parents=True, exist_ok=True)
    for name, data in SEEDS.items():
        (out / name).write_bytes(data)
    print(f"wrote {len(SEEDS)} seeds to {out}")


if __name__ == "__main__":
    main()
