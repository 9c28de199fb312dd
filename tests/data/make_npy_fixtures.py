#!/usr/bin/python3
"""Writes the tiny .npy fixtures of tests/test_data.c with numpy itself (run from this folder),
so the reader is checked against files numpy really produces. Values are formulas the test
recomputes: u8[i] = 7*i mod 256 over (T=2, N=3, 2, 2); f4[i] = i/4 - 1 over (N=3, T=2, 2, 3)."""
import numpy as np

a = (np.arange(2 * 3 * 2 * 2) * 7 % 256).astype(np.uint8).reshape(2, 3, 2, 2)
np.save('npy_u8_tn22.npy', a)
b = (np.arange(3 * 2 * 2 * 3, dtype=np.float32) / 4 - 1).reshape(3, 2, 2, 3)
with open('npy_f4_nt23_v2.npy', 'wb') as f:
    np.lib.format.write_array(f, b, version=(2, 0))
np.save('npy_len_i64.npy', np.array([1, 2, 2], dtype=np.int64))
np.save('npy_f4_big_endian.npy', b.astype('>f4'))
np.save('npy_f4_fortran.npy', np.asfortranarray(b))
