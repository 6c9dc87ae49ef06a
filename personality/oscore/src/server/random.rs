//! The random bytes of `getrandom` and `AT_RANDOM`: a ChaCha20 key stream (RFC 8439) keyed
//! with the seed the glue passes.
//!
//! ChaCha20 rather than xorshift because it costs a few dozen lines and its output shows no
//! pattern (musl's `AT_RANDOM` stack canary and hash seeds deserve that much), and it is
//! checked here against the RFC's test vector. It is **not** a source of secrets: the key is
//! whatever the glue had at boot, and the stream is never reseeded, so anyone who knows the
//! seed knows every byte.

/// ChaCha's constant words, "expand 32-byte k".
const CONSTANTS: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// The bytes of one block.
const BLOCK_BYTES: usize = 64;

/// The ChaCha20 block function: 64 bytes of key stream for `key`, block `counter` and
/// `nonce` (RFC 8439, section 2.3).
pub fn chacha20_block(key: &[u32; 8], counter: u32, nonce: &[u32; 3]) -> [u8; BLOCK_BYTES] {
    let mut initial = [0u32; 16];
    initial[..4].copy_from_slice(&CONSTANTS);
    initial[4..12].copy_from_slice(key);
    initial[12] = counter;
    initial[13..].copy_from_slice(nonce);
    let mut state = initial;
    for _ in 0..10 {
        quarter_round(&mut state, 0, 4, 8, 12);
        quarter_round(&mut state, 1, 5, 9, 13);
        quarter_round(&mut state, 2, 6, 10, 14);
        quarter_round(&mut state, 3, 7, 11, 15);
        quarter_round(&mut state, 0, 5, 10, 15);
        quarter_round(&mut state, 1, 6, 11, 12);
        quarter_round(&mut state, 2, 7, 8, 13);
        quarter_round(&mut state, 3, 4, 9, 14);
    }
    let mut block = [0u8; BLOCK_BYTES];
    for (index, chunk) in block.chunks_exact_mut(4).enumerate() {
        chunk.copy_from_slice(&state[index].wrapping_add(initial[index]).to_le_bytes());
    }
    block
}

/// The quarter round on four words of the state (indices are constants below 16).
fn quarter_round(state: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    state[a] = state[a].wrapping_add(state[b]);
    state[d] = (state[d] ^ state[a]).rotate_left(16);
    state[c] = state[c].wrapping_add(state[d]);
    state[b] = (state[b] ^ state[c]).rotate_left(12);
    state[a] = state[a].wrapping_add(state[b]);
    state[d] = (state[d] ^ state[a]).rotate_left(8);
    state[c] = state[c].wrapping_add(state[d]);
    state[b] = (state[b] ^ state[c]).rotate_left(7);
}

/// A ChaCha20 key stream: the blocks of one key and a zero nonce, with a 64-bit block
/// counter over the counter word and the first nonce word, so it never repeats.
#[derive(Clone)]
pub struct RandomStream {
    key: [u32; 8],
    block_number: u64,
    block: [u8; BLOCK_BYTES],
    /// How many bytes of `block` were handed out.
    used: usize,
}

impl core::fmt::Debug for RandomStream {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The key stays out of logs.
        formatter
            .debug_struct("RandomStream")
            .field("block_number", &self.block_number)
            .finish_non_exhaustive()
    }
}

impl RandomStream {
    /// The stream of `seed`.
    pub fn new(seed: [u8; 32]) -> RandomStream {
        let mut key = [0u32; 8];
        for (word, bytes) in key.iter_mut().zip(seed.chunks_exact(4)) {
            let mut raw = [0u8; 4];
            raw.copy_from_slice(bytes);
            *word = u32::from_le_bytes(raw);
        }
        RandomStream {
            key,
            block_number: 0,
            block: [0; BLOCK_BYTES],
            used: BLOCK_BYTES,
        }
    }

    /// Fills `output` with the next bytes of the stream.
    pub fn fill(&mut self, output: &mut [u8]) {
        let mut filled = 0;
        while filled < output.len() {
            if self.used == BLOCK_BYTES {
                let counter = self.block_number as u32;
                let nonce = [(self.block_number >> 32) as u32, 0, 0];
                self.block = chacha20_block(&self.key, counter, &nonce);
                self.block_number = self.block_number.wrapping_add(1);
                self.used = 0;
            }
            let available = &self.block[self.used..];
            let count = available.len().min(output.len() - filled);
            output[filled..filled + count].copy_from_slice(&available[..count]);
            self.used += count;
            filled += count;
        }
    }

    /// The next `N` bytes.
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut bytes = [0; N];
        self.fill(&mut bytes);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_function_matches_rfc_8439_section_2_3_2() {
        let key: [u32; 8] = core::array::from_fn(|index| {
            let base = (index * 4) as u32;
            u32::from_le_bytes([base as u8, base as u8 + 1, base as u8 + 2, base as u8 + 3])
        });
        let nonce = [0x0900_0000, 0x4a00_0000, 0];
        let block = chacha20_block(&key, 1, &nonce);
        let expected: [u8; 64] = [
            0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15, 0x50, 0x0f, 0xdd, 0x1f, 0xa3, 0x20,
            0x71, 0xc4, 0xc7, 0xd1, 0xf4, 0xc7, 0x33, 0xc0, 0x68, 0x03, 0x04, 0x22, 0xaa, 0x9a,
            0xc3, 0xd4, 0x6c, 0x4e, 0xd2, 0x82, 0x64, 0x46, 0x07, 0x9f, 0xaa, 0x09, 0x14, 0xc2,
            0xd7, 0x05, 0xd9, 0x8b, 0x02, 0xa2, 0xb5, 0x12, 0x9c, 0xd1, 0xde, 0x16, 0x4e, 0xb9,
            0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50, 0x3c, 0x4e,
        ];
        assert_eq!(block, expected);
    }

    #[test]
    fn the_stream_does_not_depend_on_how_it_is_read() {
        let mut whole = RandomStream::new([7; 32]);
        let mut pieces = RandomStream::new([7; 32]);
        let mut all = [0u8; 200];
        whole.fill(&mut all);
        let mut parts = [0u8; 200];
        for chunk in parts.chunks_mut(13) {
            pieces.fill(chunk);
        }
        assert_eq!(all, parts);
        assert_ne!(all[..64], all[64..128], "blocks differ");
    }

    #[test]
    fn different_seeds_give_different_streams() {
        let mut first = RandomStream::new([1; 32]);
        let mut second = RandomStream::new([2; 32]);
        assert_ne!(first.bytes::<32>(), second.bytes::<32>());
    }
}
