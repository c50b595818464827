//! Small valid media files made on the spot (a PNG, a WAV tone, raw PCM, MP3 silence, an MP4 with no
//! tracks), and `GET /outputs/…`, which serves the images and videos the demo "generated".

use std::f64::consts::TAU;
use std::time::Duration;

use siliconflow::mock::MockResponse;

/// The side of the demo's square PNG images, in pixels.
const IMAGE_SIDE: u32 = 64;

/// Serves `/outputs/<name>`: `images/<seed>.png` or `videos/<id>.mp4`, sent a piece at a time like a
/// download.
pub fn asset(name: &str) -> MockResponse {
    let served = if let Some(seed) = name
        .strip_prefix("images/")
        .and_then(|n| n.strip_suffix(".png"))
    {
        let seed = seed.parse::<u64>().unwrap_or(0);
        MockResponse::bytes("image/png", png(IMAGE_SIDE, IMAGE_SIDE, seed))
    } else if name.starts_with("videos/") && name.ends_with(".mp4") {
        MockResponse::bytes("video/mp4", mp4())
    } else {
        return MockResponse::not_found();
    };
    served.trickle(4096, Duration::from_millis(5))
}

// ---- PNG --------------------------------------------------------------------------------------------

/// A `width`×`height` RGB PNG of a diagonal gradient whose colours come from `seed`, stored without
/// compression (zlib "stored" blocks), so the encoder stays a few lines long.
pub fn png(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let [r0, g0, b0, r1, g1, b1, ..] = seed.to_le_bytes();
    let mut raw = Vec::with_capacity((height * (1 + 3 * width)) as usize);
    for y in 0..height {
        raw.push(0); // Filter type: none.
        for x in 0..width {
            let t = (x + y) * 255 / (width + height).max(1);
            let blend = |a: u8, b: u8| ((u32::from(a) * (255 - t) + u32::from(b) * t) / 255) as u8;
            raw.extend_from_slice(&[blend(r0, r1), blend(g0, g1), blend(b0, b1)]);
        }
    }
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, standard filters, no interlace.

    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut out, b"IHDR", &header);
    png_chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// `data` as a zlib stream of uncompressed deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(0xffff).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len())); // BFINAL on the last block, BTYPE 00.
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    if blocks.is_empty() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

// ---- Audio ------------------------------------------------------------------------------------------

/// `seconds` of a 440 Hz tone, fading in and out, as 16-bit little-endian mono samples.
pub fn tone_pcm(sample_rate: u32, seconds: f64) -> Vec<u8> {
    let count = (f64::from(sample_rate) * seconds) as usize;
    let fade = (sample_rate / 50).max(1) as usize; // 20 ms
    let mut out = Vec::with_capacity(count * 2);
    for i in 0..count {
        let envelope = (i.min(count - i) as f64 / fade as f64).min(1.0);
        let value = (TAU * 440.0 * i as f64 / f64::from(sample_rate)).sin() * envelope * 0.3;
        out.extend_from_slice(&((value * f64::from(i16::MAX)) as i16).to_le_bytes());
    }
    out
}

/// A WAV file (RIFF, PCM, 16-bit mono) around `samples`.
pub fn wav(sample_rate: u32, samples: &[u8]) -> Vec<u8> {
    let data_len = samples.len() as u32;
    let mut out = Vec::with_capacity(44 + samples.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out.extend_from_slice(samples);
    out
}

/// The duration of a PCM WAV file, when `bytes` is one.
pub fn wav_seconds(bytes: &[u8]) -> Option<f64> {
    if bytes.get(..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let byte_rate = u32::from_le_bytes(bytes.get(28..32)?.try_into().ok()?);
    let data_len = u32::from_le_bytes(bytes.get(40..44)?.try_into().ok()?);
    (byte_rate > 0).then(|| f64::from(data_len) / f64::from(byte_rate))
}

/// `seconds` of MP3 silence: MPEG-1 Layer III frames at 128 kbit/s, mono, whose side information is
/// all zero (no audio data: decoders play silence). `sample_rate` is 32000 or 44100.
pub fn mp3_silence(sample_rate: u32, seconds: f64) -> Vec<u8> {
    let (rate_bits, frame_len) = if sample_rate == 32000 {
        (0b01, 576) // 144 * 128000 / 32000
    } else {
        (0b00, 417) // 144 * 128000 / 44100, rounded down
    };
    // Sync, MPEG-1, Layer III, no CRC | 128 kbit/s, the sample rate, no padding | mono.
    let header = [0xff, 0xfb, 0x90 | (rate_bits << 2), 0xc0];
    let frames = (f64::from(sample_rate) * seconds / 1152.0).ceil() as usize;
    let mut out = Vec::with_capacity(frames * frame_len);
    for _ in 0..frames {
        out.extend_from_slice(&header);
        out.resize(out.len() + frame_len - header.len(), 0);
    }
    out
}

// ---- Video ------------------------------------------------------------------------------------------

/// A valid MP4 (ISO base media file) without tracks: an `ftyp` box and a `moov` box holding only the
/// movie header. Players open it and find nothing to play, which is all an offline demo can promise.
pub fn mp4() -> Vec<u8> {
    let mut out = Vec::new();
    let mut ftyp = b"isom".to_vec();
    ftyp.extend_from_slice(&0x200u32.to_be_bytes());
    ftyp.extend_from_slice(b"isomiso2mp41");
    mp4_box(&mut out, b"ftyp", &ftyp);

    let mut mvhd = vec![0u8; 4]; // version 0, flags 0
    mvhd.extend_from_slice(&0u32.to_be_bytes()); // creation time
    mvhd.extend_from_slice(&0u32.to_be_bytes()); // modification time
    mvhd.extend_from_slice(&1000u32.to_be_bytes()); // timescale
    mvhd.extend_from_slice(&0u32.to_be_bytes()); // duration
    mvhd.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // rate 1.0
    mvhd.extend_from_slice(&0x0100u16.to_be_bytes()); // volume 1.0
    mvhd.extend_from_slice(&[0; 10]); // reserved
    for value in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        mvhd.extend_from_slice(&value.to_be_bytes()); // unity matrix
    }
    mvhd.extend_from_slice(&[0; 24]); // pre-defined
    mvhd.extend_from_slice(&1u32.to_be_bytes()); // next track id
    let mut moov = Vec::new();
    mp4_box(&mut moov, b"mvhd", &mvhd);
    mp4_box(&mut out, b"moov", &moov);
    out
}

fn mp4_box(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(&(8 + body.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
}
