"""Float32 values as their shortest round-trip decimal text, vectorized with numpy.

`format_float32_rows` is the whole interface (and `float32_cells` for texts a cell at a
time). One algorithm in one module, at some 400 lines: its tables, its four steps and its
rare cases agree on one layout of digits and bits, and read best side by side.

`format_float32_rows` takes whole rows of float32 in, and gives the
TSV text of those rows out (a tab between values, a newline after each row).
For every finite float32 the text is the fewest digits that Python's
`float()` (or JavaScript's `Number()`) followed by rounding to float32 reads
back to the same bits, written like `0.25`, `-1.5e-07`, `3.4028235e+38`:
positional for 1e-4 <= |x| < 1e9, else with an exponent.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

_BLOCK_VALUES = 1 << 15  # values formatted at once: the work arrays stay in the CPU cache


class NotFiniteError(ValueError):
    """A value that is NaN or infinite; `index` is its position in the rows, flattened."""

    def __init__(self, index: int):
        super().__init__(f"value {index} is not finite")
        self.index = index


_local = threading.local()


def format_float32_rows(rows: np.ndarray, *, first: bool, following: np.ndarray | None) -> list[bytes]:
    """The TSV text of `rows` (C-ordered float32, 2-D), in pieces to write one after another.

    A value's minus sign is written with the separator before it, so the text
    of a chunk depends on its neighbours: `first` says the chunk starts the file
    (its own first sign is written), `following` is the row after the chunk (or
    None at the end of the file). Thread-safe: each thread keeps its own work arrays.

    Raises:
        NotFiniteError: a value is NaN or infinite.
    """
    formatter = getattr(_local, "formatter", None)
    if formatter is None:
        formatter = _local.formatter = _Formatter(_BLOCK_VALUES)
    return formatter.format(rows, rows.shape[1], first=first, following=following)


def float32_cells(rows: np.ndarray) -> list[list[str]]:
    """Each value of `rows` (2-D) as float32 in the fewest digits that read back to it, row by row.

    Raises:
        NotFiniteError: a value is NaN or infinite.
    """
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    if rows.size == 0:
        return [[] for _ in range(len(rows))]
    text = b"".join(format_float32_rows(rows, first=True, following=None)).decode("ascii")
    return [line.split("\t") for line in text.splitlines()]


# ---------------------------------------------------------------------------
# Float32 to shortest round-trip text, vectorized with numpy.
#
# For a block of values x (|x| as float64 a):
#   1. the decimal exponent e (10**e <= a < 10**(e+1)) from the binary exponent
#      and one comparison, and m9 = a * 10**(8-e): 9 digits and a fraction
#      (9 digits always round-trip a float32);
#   2. the fewest digits whose rounding of m9 stays inside the reals that round
#      to x: within half the gap to the next float32 below |x| (the smaller of
#      the two gaps), less a margin larger than every float64 rounding here, so
#      that a reader who parses the decimal to a double and rounds that to
#      float32 gets x back;
#   3. the text, from table lookups keyed on (exponent, last column or not,
#      sign of the next value, digit count): the digits, spread over 13 places
#      ("0.000123" has 3 zeros first), come from 5- and 4-digit tables of digit
#      values with a gap for the point after the first character; ORing the
#      key's pattern turns them into characters and adds the point, the
#      exponent, the separator and the next value's "-". At most 16 bytes;
#   4. the texts are laid end to end by one scatter of overlapping 16-byte
#      items, in order, each overwriting the unused tail of the one before.
# 10 <= |x| < 1e9 puts the point later ("12.5") and is redone for those values.
# ---------------------------------------------------------------------------

_OFFSET = 50  # a decimal exponent e is table index e + _OFFSET
_EXPONENTS = 100
_NOT_FINITE = _EXPONENTS - 1  # the table index of NaN and infinity
_POSITIONAL = (-4, 8)  # exponents written without "e": 1e-4 <= |x| < 1e9
_KEYS = _EXPONENTS * 40  # key = ((e + _OFFSET) * 4 + last_column * 2 + next_negative) * 10 + digits
_MARGIN = 1 - 1e-6
_FEWER_SCALE = np.array([1e-4, 1e-5, 1e-6, 1e-7, 1e-8])  # m9 in units of the 5th, 4th, ... 1st digit
_FEWER_ALLOWED = np.array([1e-1, 1e-2, 1e-3, 1e-4, 1e-5])  # the 6th digit's unit in those
_M64 = (1 << 64) - 1


@dataclass(frozen=True)
class _Tables:
    exponent: np.ndarray  # float64 exponent field -> e + _OFFSET, or one less
    threshold: np.ndarray  # float64 exponent field -> 10**(e+1), to settle the one less
    scale: np.ndarray  # e + _OFFSET -> 10**(8-e)
    unit: np.ndarray  # key -> 10**-(9 - digits)
    spread: np.ndarray  # key -> 10**(13 - characters): the characters left-aligned in 13 digits
    pattern: np.ndarray  # key -> (low, high) bytes ORed onto the digit values: "0" per digit, the point, the suffix
    length: np.ndarray  # key -> bytes of text
    five_gap: np.ndarray  # 0..99999 -> its 5 digit values at bytes 0, 2..5 (byte 1 for the point)
    four_pair: np.ndarray  # 0..9999 -> its 4 digit values at bytes 6..9 of (low, high)
    four_high: np.ndarray  # 0..9999 -> its 4 digit values at bytes 10..13, in the high word
    five: np.ndarray  # 0..99999 -> "ddddd" (ASCII)
    four: np.ndarray  # 0..9999 -> "dddd" (ASCII)


@functools.lru_cache(maxsize=1)
def _tables() -> _Tables:
    exponent = np.full(2048, _NOT_FINITE, np.int64)
    threshold = np.full(2048, np.nan)
    exponent[0], threshold[0] = _OFFSET, np.inf  # zero: written "0"
    for field in range(1023 - 160, 1023 + 140):  # every float32, subnormals included
        power = field - 1023
        e = math.floor(power * math.log10(2))
        while Fraction(10) ** e > Fraction(2) ** power:
            e -= 1
        while Fraction(10) ** (e + 1) <= Fraction(2) ** power:
            e += 1
        exponent[field] = e + _OFFSET
        threshold[field] = float(Fraction(10) ** (e + 1))
    scale = np.array([float(Fraction(10) ** (8 - i + _OFFSET)) for i in range(_EXPONENTS)])
    scale[_NOT_FINITE] = np.nan  # NaN digits single out the rare values, see _Formatter._rare

    unit, spread = np.zeros(_KEYS), np.zeros(_KEYS)
    pattern = np.zeros((_KEYS, 2), np.uint64)
    length = np.zeros(_KEYS, np.int64)
    low, high = _POSITIONAL
    for index in range(_EXPONENTS):
        e = index - _OFFSET
        exponential = not low <= e <= high
        zeros = -e if low <= e < 0 else 0  # "0.00123": the zeros before the digits
        for ending in range(4):
            last_column, next_negative = divmod(ending, 2)
            tail = b"e%+03d" % e if exponential else b""
            tail += b"\n" if last_column else b"\t"
            tail += b"-" if next_negative else b""
            for digits in range(1, 10):
                key = (index * 4 + ending) * 10 + digits
                characters = zeros + digits
                # the digits' "0" bits, with the point after the first character
                number = b"0" if characters == 1 else b"0." + b"0" * (characters - 1)
                unit[key] = float(Fraction(1, 10 ** (9 - digits)))
                # NaN for 10 <= |x| < 1e9, whose point is not after the first digit
                spread[key] = float(10 ** (13 - characters)) if not 0 < e <= high else np.nan
                bits = int.from_bytes(number + tail, "little")
                pattern[key] = bits & _M64, bits >> 64
                length[key] = len(number) + len(tail)

    def digit_values(count: int) -> np.ndarray:  # byte i: the i-th digit, most significant first
        k = np.arange(10**count, dtype=np.uint64)
        places = [(k // np.uint64(10 ** (count - 1 - i))) % np.uint64(10) for i in range(count)]
        return sum((place << np.uint64(8 * i) for i, place in enumerate(places)), np.uint64(0))

    five, four = digit_values(5), digit_values(4)
    five_gap = (five & np.uint64(0xFF)) | ((five >> np.uint64(8)) << np.uint64(16))
    four_pair = np.stack([four << np.uint64(48), four >> np.uint64(16)], axis=1)
    ascii = np.uint64(0x3030303030303030)
    return _Tables(exponent, threshold, scale, unit, spread, pattern, length,
                   five_gap, four_pair, four << np.uint64(16), five | (ascii >> np.uint64(24)), four | (ascii >> np.uint64(32)))


class _Formatter:
    """Formats float32 values as TSV text, block by block, in reused work arrays."""

    def __init__(self, block: int):
        self.block = block
        self.t = _tables()
        empty = functools.partial(np.empty, block)
        # Each work array has a first role (its name) and, to keep the set small
        # enough for the CPU cache, later ones noted where `_block` reuses it.
        self.magnitude = empty(np.float64)  # |x| as float64; then the value being rounded, spreads, digit groups
        self.power = empty(np.float64)  # 10**(e+1) thresholds, then 10**(8-e); then the rounded digits
        self.m9 = empty(np.float64)  # |x| * 10**(8-e); then what is left after the first digit group
        self.half_gap = empty(np.float64)  # how far a rounding may stray; then the digits spread over 13 places
        self.distance = empty(np.float64)  # how far a rounding strays
        self.magnitude_bits = empty(np.uint32)  # x without its sign bit
        self.scratch_bits = empty(np.uint32)  # the float32 below |x|; then the sign bits
        self.exponent_field = empty(np.int64)  # float64 exponent field; then the first 5 digits
        self.middle_digits = empty(np.int64)  # the next 4 digits
        self.last_digits = empty(np.int64)  # the last 4 digits; then the text lengths
        self.exponent = empty(np.int64)  # the decimal exponent's table index
        self.key = empty(np.int64)  # the table key of each value's text
        self.ends = empty(np.int64)  # where each text starts in self.text
        self.fits8 = empty(bool)  # 8 digits round-trip (first: |x| >= 10**(e+1))
        self.fits7 = empty(bool)  # 7 digits do
        self.fits6 = empty(bool)  # 6 digits do
        self.digits_saved = empty(np.uint8)  # digits fewer than 9
        self.items = np.empty((block, 2), np.uint64)  # each value's text as 16 bytes
        self.patterns = np.empty((block, 2), np.uint64)  # the bytes ORed onto the digit values
        self.text = np.empty(block * 16 + 16, np.uint8)
        self._ending, self._ending_shape = np.empty(0, np.int64), None

    def format(self, chunk: np.ndarray, columns: int, first: bool, following: np.ndarray | None) -> list[bytes]:
        """The text of `chunk` (whole rows of `columns` values, C-ordered float32), in pieces."""
        values = chunk.reshape(-1)
        pieces = []
        if first and np.signbit(values[0]):
            pieces.append(b"-")  # every later sign is written after the separator before it
        block = self.block // columns * columns or self.block  # whole rows, unless a row is longer
        for start in range(0, values.size, block):
            stop = min(start + block, values.size)
            if stop < values.size:
                next_negative = bool(np.signbit(values[stop]))
            else:
                next_negative = following is not None and bool(np.signbit(following.flat[0]))
            try:
                with np.errstate(invalid="ignore"):  # NaN and infinity are found, and reported, below
                    written = self._block(values[start:stop], start % columns, columns, next_negative)
            except NotFiniteError as bad:
                raise NotFiniteError(start + bad.index) from None
            # a block's text is still in the CPU cache: copied out now, it costs least
            pieces.append(self.text[:written].tobytes())
        return pieces

    def _block(self, x: np.ndarray, column: int, columns: int, next_negative: bool) -> int:
        """Write the text of `x` into self.text; return its length.

        Four steps, each over the whole block in the preallocated arrays: the decimal
        exponent and 9 digits (`_scaled`), how many digits fewer still read back
        (`_digits_saved`), the key that picks a text pattern (`_key`), and the digits
        laid into 16-byte fields, end to end (`_fields`, `_lay_out`).
        """
        n = x.size
        bits = x.view(np.uint32)
        magnitude, e, power, m9 = self._scaled(bits, n)
        saved, half = self._digits_saved(magnitude, power, m9, n)
        key = self._key(e, bits, saved, n, column, columns, next_negative)
        if self.fits6[:n].any():
            self._fewer_digits(self.fits6[:n], m9, half, key)
        fields, length = self._fields(e, key, m9, n)
        return self._lay_out(fields, length, n)

    def _scaled(self, bits: np.ndarray, n: int):
        """1. |x|, its decimal exponent (as a table index) and m9 = |x| * 10**(8-e): 9 digits and a fraction."""
        t = self.t
        magnitude = np.bitwise_and(bits, np.uint32(0x7FFFFFFF), out=self.magnitude_bits[:n])
        a = self.magnitude[:n]
        a[...] = magnitude.view(np.float32)
        field = np.right_shift(a.view(np.int64), 52, out=self.exponent_field[:n])
        e = t.exponent.take(field, out=self.exponent[:n], mode="clip")
        np.add(e, np.greater_equal(a, t.threshold.take(field, out=self.power[:n], mode="clip"),
                                   out=self.fits8[:n]), out=e)
        power = t.scale.take(e, out=self.power[:n], mode="clip")
        m9 = np.multiply(a, power, out=self.m9[:n])
        return magnitude, e, power, m9

    def _digits_saved(self, magnitude: np.ndarray, power: np.ndarray, m9: np.ndarray, n: int):
        """2. How many of 3 digits fewer (9 -> 8, 7, 6) still round within half the gap to the next
        float32 below |x| (the smaller gap), in m9's units; and that half gap (scaled to 6 digits)."""
        below = np.maximum(magnitude, np.uint32(1), out=self.scratch_bits[:n])
        below -= np.uint32(1)
        half = np.subtract(magnitude.view(np.float32), below.view(np.float32), out=self.half_gap[:n])
        half *= power
        half *= 0.5 * _MARGIN * 0.1
        y, near = self.magnitude[:n], self.distance[:n]
        np.multiply(m9, 0.1, out=y)
        fits8, fits7, fits6 = self.fits8[:n], self.fits7[:n], self.fits6[:n]
        for level, fits in enumerate((fits8, fits7, fits6)):
            if level:
                y *= 0.1
                half *= 0.1
            np.rint(y, out=near)
            near -= y
            np.abs(near, out=near)
            np.less_equal(near, half, out=fits)
        # fewer digits fit when more do: 6 fit -> 7 and 8 fit
        np.bitwise_or(fits7, fits6, out=fits7)
        np.bitwise_or(fits8, fits7, out=fits8)
        saved = np.add(fits8.view(np.uint8), fits7.view(np.uint8), out=self.digits_saved[:n])
        saved += fits6.view(np.uint8)
        return saved, half

    def _key(self, e, bits, saved, n: int, column: int, columns: int, next_negative: bool) -> np.ndarray:
        """3. The key of each value's text pattern: exponent, last column, sign of the next value, digit count."""
        key = np.multiply(e, 40, out=self.key[:n])
        key += self._endings(n, column, columns)
        negative = np.right_shift(bits, np.uint32(31), out=self.scratch_bits[:n])
        negative *= np.uint32(10)
        np.add(key[:-1], negative[1:], out=key[:-1])
        if next_negative:
            key[-1] += 10
        np.subtract(key, saved, out=key)
        return key

    def _fields(self, e: np.ndarray, key: np.ndarray, m9: np.ndarray, n: int):
        """4. Each value's text in a 16-byte field (digits ORed into its pattern) and its length."""
        t = self.t
        rounded = np.multiply(m9, t.unit.take(key, out=self.power[:n], mode="clip"), out=self.power[:n])
        np.rint(rounded, out=rounded)
        digits = np.multiply(rounded, t.spread.take(key, out=self.magnitude[:n], mode="clip"), out=self.half_gap[:n])
        wide = None
        if not digits.max() < 1e13:  # NaN or too big: a rare value, see _rare
            wide = self._rare(e, key, rounded, digits)
        # the 13 digits in groups of 5, 4, 4 (exact: a whole number below 1e13)
        first5, middle4, last4 = self.exponent_field[:n], self.middle_digits[:n], self.last_digits[:n]
        group = np.multiply(digits, 1e-8, out=self.magnitude[:n])
        group += 1e-9
        np.floor(group, out=group)
        first5[...] = group
        rest = np.multiply(group, 1e8, out=self.m9[:n])
        np.subtract(digits, rest, out=rest)
        group = np.multiply(rest, 1e-4, out=self.magnitude[:n])
        group += 1e-9
        np.floor(group, out=group)
        middle4[...] = group
        group *= 1e4
        rest -= group
        last4[...] = rest
        fields = self.items[:n]
        t.four_pair.take(middle4, axis=0, out=fields, mode="clip")
        fields[:, 0] |= t.five_gap.take(first5, mode="clip")
        fields[:, 1] |= t.four_high.take(last4, mode="clip")
        # digit values 0..9 OR "0" are their characters; digits past the number are 0, so
        # the suffix ORed onto them is intact
        fields |= t.pattern.take(key, axis=0, out=self.patterns[:n], mode="clip")
        length = t.length.take(key, out=last4, mode="clip")
        if wide is not None:
            self._point_inside(wide, e, key, digits, fields, length)
        return fields, length

    def _lay_out(self, fields: np.ndarray, length: np.ndarray, n: int) -> int:
        """Lay the texts end to end: each 16-byte field overwrites the unused tail of the one before."""
        ends = np.cumsum(length, out=self.ends[:n])
        total = int(ends[-1])
        ends -= length
        items = np.ndarray(shape=(total + 1,), dtype="V16", buffer=self.text, strides=(1,))
        items[ends] = fields.view("V16").reshape(-1)
        return total

    def _endings(self, n: int, column: int, columns: int) -> np.ndarray:
        """The key's part for 9 digits and the separator: a tab, or a newline after a row's last value."""
        if self._ending_shape != (n, column, columns):
            self._ending = np.full(n, 9, np.int64)
            self._ending[columns - 1 - column :: columns] += 20
            self._ending_shape = (n, column, columns)
        return self._ending

    def _rare(self, e: np.ndarray, key: np.ndarray, rounded: np.ndarray, digits: np.ndarray) -> np.ndarray | None:
        """Deal with the values whose digits came out NaN or too big.

        Raises `NotFiniteError` for NaN and infinity. A value rounded up to the
        next power of ten (9.9999999 -> "10") gets one digit and the exponent
        above. 10 <= |x| < 1e9 gets its digits here; their indices are returned
        for `_point_inside` (None when there are none).
        """
        if (e == _NOT_FINITE).any():
            raise NotFiniteError(int(np.argmax(e == _NOT_FINITE)))
        up = np.flatnonzero(digits >= 1e13)
        if up.size:
            key[up] += 40 - key[up] % 10 + 1
            e[up] += 1
            rounded[up] = 1
            digits[up] = self.t.spread.take(key[up])
        wide = np.flatnonzero((e > _OFFSET) & (e <= _OFFSET + _POSITIONAL[1]))
        if not wide.size:
            return None
        digits[wide] = rounded[wide] * 10.0 ** (13 - key[wide] % 10)
        return wide

    @staticmethod
    def _fewer_digits(candidates: np.ndarray, m9: np.ndarray, half: np.ndarray, key: np.ndarray) -> None:
        """Lower the digit count of the values that round-trip with 5 digits or fewer.

        `half` is the allowed distance in units of the 6th digit. A value that
        fits with k digits fits with more, so the count of fits is what to drop.
        """
        index = np.flatnonzero(candidates)
        scaled = np.multiply.outer(_FEWER_SCALE, m9[index])  # a row per digit count
        gap = np.rint(scaled)
        gap -= scaled
        fits = np.less_equal(np.abs(gap, out=gap), np.multiply.outer(_FEWER_ALLOWED, half[index]))
        key[index] -= fits.sum(axis=0)

    def _point_inside(self, index, e, key, digits, fields, length) -> None:
        """Redo 10 <= |x| < 1e9, whose point (if any) comes after the integer part."""
        t = self.t
        u = np.uint64
        exponent = e[index] - _OFFSET
        count = key[index] % 10
        ending = key[index] // 10 % 4
        whole = digits[index]
        g0 = np.floor(whole * 1e-8 + 1e-9)
        rest = whole - g0 * 1e8
        g1 = np.floor(rest * 1e-4 + 1e-9)
        g2 = rest - g1 * 1e4
        four = t.four
        lo = t.five[g0.astype(np.intp)] | (four[g1.astype(np.intp)] << u(40))
        hi = (four[g1.astype(np.intp)] >> u(24)) | (four[g2.astype(np.intp)] << u(8))
        point = exponent + 1
        characters = np.maximum(count, point)
        number = characters + (count > point)
        keep_lo, keep_hi = _byte_masks(point)
        shifted_lo, shifted_hi = lo << u(8), (hi << u(8)) | (lo >> u(56))
        after_lo, after_hi = _byte_masks(point + 1)
        dot_shift = u(8) * point.astype(np.uint64)
        dot = np.full(index.size, ord("."), np.uint64)
        lo = (lo & keep_lo) | (dot << dot_shift) | (shifted_lo & ~after_lo)
        hi = (hi & keep_hi) | (dot << (dot_shift - u(64))) | (shifted_hi & ~after_hi)
        cut_lo, cut_hi = _byte_masks(number)
        lo &= cut_lo
        hi &= cut_hi
        suffix = np.array([_word(b"\t"), _word(b"\t-"), _word(b"\n"), _word(b"\n-")], np.uint64)[ending]
        shift = (number * 8).astype(np.uint64)
        lo |= suffix << shift
        hi |= (suffix >> (u(64) - shift)) | (suffix << (shift - u(64)))
        fields[index, 0] = lo
        fields[index, 1] = hi
        length[index] = number + 1 + (ending % 2)


def _byte_masks(count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the low `count` bytes of a 128-bit value, as (low word, high word)."""
    bits = (count * 8).astype(np.uint64)
    ones = np.uint64(_M64)
    lo = np.where(bits >= 64, ones, ~(ones << bits))
    hi = np.where(bits > 64, ~(ones << (bits - np.uint64(64))), np.uint64(0))
    return lo, hi


def _word(text: bytes) -> int:
    return int.from_bytes(text, "little")
