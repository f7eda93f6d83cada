//! Small real files for the demo data, generated here: a one-page PDF of text lines and an RGB
//! PNG. Both open in ordinary viewers; nothing is copied from elsewhere.

/// A one-page A4 PDF showing `lines` in Helvetica, top to bottom.
pub fn pdf(lines: &[&str]) -> Vec<u8> {
    let mut text = String::from("BT /F1 12 Tf 72 770 Td 16 TL");
    for line in lines {
        text.push_str(" (");
        for c in line.chars() {
            match c {
                '(' | ')' | '\\' => {
                    text.push('\\');
                    text.push(c);
                }
                // The standard font's encoding: keep to printable ASCII.
                c if c.is_ascii() && !c.is_ascii_control() => text.push(c),
                _ => text.push('?'),
            }
        }
        text.push_str(") Tj T*");
    }
    text.push_str(" ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (n, body) in (1..).zip(&objects) {
        offsets.push(out.len());
        out.extend_from_slice(format!("{n} 0 obj\n{body}\nendobj\n").as_bytes());
    }
    let xref = out.len();
    // Every cross-reference entry is exactly 20 bytes, its line ending included.
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        table.push_str(&format!("{offset:010} 00000 n \n"));
    }
    table.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    out.extend_from_slice(table.as_bytes());
    out
}

/// A `width`×`height` RGB PNG whose pixel at (x, y) is `pixel(x, y)`. The image data is
/// stored uncompressed in the zlib stream: small images need no compressor.
pub fn png(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let mut raw = Vec::with_capacity((height * (1 + 3 * width)) as usize);
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&pixel(x, y));
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let mut blocks = raw.chunks(0xFFFF).peekable();
    while let Some(block) = blocks.next() {
        zlib.push(u8::from(blocks.peek().is_none())); // BFINAL, stored
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());

    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, no filter, no interlace

    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", &header), (b"IDAT", &zlib), (b"IEND", &Vec::new())] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(out.get(start..).unwrap_or_default());
        out.extend_from_slice(&crc.to_be_bytes());
    }
    out
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_adler_match_their_check_values() {
        // The standard check value of each: the digest of "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn pdf_has_a_correct_cross_reference_table() {
        let pdf = pdf(&["Dear Dr Jones (re: Ada)", "Caf\u{e9} \\ fine"]);
        let text = String::from_utf8(pdf.clone()).unwrap();
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        assert!(text.contains(r"(Dear Dr Jones \(re: Ada\)) Tj"));
        assert!(text.contains(r"(Caf? \\ fine) Tj"));
        // startxref points at the table, and every entry at its object.
        let startxref: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(text[startxref..].starts_with("xref\n0 6\n"));
        let entries: Vec<&str> = text[startxref..].lines().skip(3).take(5).collect();
        for (n, entry) in (1..).zip(entries) {
            assert_eq!(entry.len(), 19, "{entry}"); // 20 with the newline
            let offset: usize = entry[..10].parse().unwrap();
            assert!(text[offset..].starts_with(&format!("{n} 0 obj\n")));
        }
        // The content stream's declared length is its length.
        let start = text.find(">>\nstream\n").unwrap() + ">>\nstream\n".len();
        let end = text.find("\nendstream").unwrap();
        let stream = &text[start..end];
        assert!(text.contains(&format!("/Length {} >>", stream.len())));
    }

    #[test]
    fn png_chunks_and_image_data_are_well_formed() {
        let png = png(300, 250, |x, y| [x as u8, y as u8, 7]);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        // Walk the chunks, checking each CRC.
        let mut at = 8;
        let mut kinds = Vec::new();
        let mut idat = Vec::new();
        while at < png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let kind = &png[at + 4..at + 8];
            let data = &png[at + 8..at + 8 + len];
            let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
            assert_eq!(crc, crc32(&png[at + 4..at + 8 + len]));
            kinds.push(String::from_utf8(kind.to_vec()).unwrap());
            if kind == b"IDAT" {
                idat = data.to_vec();
            }
            at += 12 + len;
        }
        assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
        // Undo the stored deflate blocks and check the scanlines and the Adler-32.
        let mut raw = Vec::new();
        let mut at = 2;
        loop {
            let last = idat[at] & 1 == 1;
            let len = u16::from_le_bytes([idat[at + 1], idat[at + 2]]) as usize;
            assert_eq!(
                !(len as u16),
                u16::from_le_bytes([idat[at + 3], idat[at + 4]])
            );
            raw.extend_from_slice(&idat[at + 5..at + 5 + len]);
            at += 5 + len;
            if last {
                break;
            }
        }
        assert_eq!(raw.len(), 250 * (1 + 3 * 300));
        assert_eq!(&raw[..4], &[0, 0, 0, 7]);
        assert_eq!(idat[at..], adler32(&raw).to_be_bytes());
    }
}
