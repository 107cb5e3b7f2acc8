//! An incremental update (ISO 32000-1 §7.5.6): new and replaced objects appended after the
//! original bytes, which are never touched, then a cross-reference section of the same kind as
//! the document's last one (a table, or a cross-reference stream for PDF 1.5 files that use
//! them) whose `/Prev` points at it, and the trailer's `/Root`, `/Info` and `/ID` carried over.

use lopdf::{Dictionary, Document, Object, ObjectId};

use super::syntax;

/// The bytes an update appends, built object by object.
pub(super) struct Update<'a> {
    original_len: usize,
    document: &'a Document,
    next_id: u32,
    tail: Vec<u8>,
    written: Vec<(ObjectId, usize)>,
}

impl<'a> Update<'a> {
    /// An update to `document`, whose file is `original`.
    pub fn new(original: &[u8], document: &'a Document) -> Self {
        let tail = if original.ends_with(b"\n") || original.ends_with(b"\r") { Vec::new() } else { b"\n".to_vec() };
        let size = document.trailer.get(b"Size").and_then(Object::as_i64).unwrap_or(0).max(0) as u32;
        Self {
            original_len: original.len(),
            document,
            next_id: size.max(document.max_id + 1),
            tail,
            written: Vec::new(),
        }
    }

    /// A fresh object number.
    pub fn new_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Where the next byte appended will stand in the whole file.
    pub fn position(&self) -> usize {
        self.original_len + self.tail.len()
    }

    /// Append object `id` as `bytes` (a whole `id gen obj … endobj`); returns where it starts in
    /// the whole file.
    pub fn put(&mut self, id: ObjectId, bytes: &[u8]) -> usize {
        let at = self.position();
        self.written.push((id, at));
        self.tail.extend_from_slice(bytes);
        at
    }

    /// Append object `id` with `object` as its value.
    pub fn put_object(&mut self, id: ObjectId, object: &Object) -> usize {
        self.put(id, syntax::indirect(id, object).as_bytes())
    }

    /// The cross-reference section and trailer; the tail to append to the original.
    pub fn finish(self) -> Vec<u8> {
        let prev = self.document.xref_start as i64;
        let mut trailer = Dictionary::new();
        for key in [&b"Root"[..], b"Info", b"ID"] {
            if let Ok(value) = self.document.trailer.get(key) {
                trailer.set(key.to_vec(), value.clone());
            }
        }
        trailer.set("Prev", Object::Integer(prev));
        let streams =
            matches!(self.document.reference_table.cross_reference_type, lopdf::xref::XrefType::CrossReferenceStream);
        if streams { self.finish_with_stream(trailer) } else { self.finish_with_table(trailer) }
    }

    fn finish_with_table(mut self, mut trailer: Dictionary) -> Vec<u8> {
        trailer.set("Size", Object::Integer(i64::from(self.next_id)));
        let start = self.position();
        let mut xref = String::from("xref\n0 1\n0000000000 65535 f\r\n");
        self.written.sort_by_key(|((id, _), _)| *id);
        for ((id, generation), at) in &self.written {
            xref.push_str(&format!("{id} 1\n{at:010} {generation:05} n\r\n"));
        }
        xref.push_str(&format!(
            "trailer\n{}\nstartxref\n{start}\n%%EOF\n",
            syntax::object(&Object::Dictionary(trailer))
        ));
        self.tail.extend_from_slice(xref.as_bytes());
        self.tail
    }

    fn finish_with_stream(mut self, mut trailer: Dictionary) -> Vec<u8> {
        let id = self.new_id();
        let start = self.position();
        self.written.push(((id, 0), start));
        self.written.sort_by_key(|((id, _), _)| *id);
        let mut rows = Vec::with_capacity(self.written.len() * 7);
        let mut index = Vec::new();
        for ((object, generation), at) in &self.written {
            index.extend([Object::Integer(i64::from(*object)), Object::Integer(1)]);
            rows.push(1u8);
            rows.extend_from_slice(&(*at as u32).to_be_bytes());
            rows.extend_from_slice(&generation.to_be_bytes());
        }
        trailer.set("Type", Object::Name(b"XRef".to_vec()));
        trailer.set("Size", Object::Integer(i64::from(self.next_id)));
        trailer.set("W", Object::Array(vec![Object::Integer(1), Object::Integer(4), Object::Integer(2)]));
        trailer.set("Index", Object::Array(index));
        let stream = syntax::stream(id, &trailer, &rows);
        self.tail.extend_from_slice(&stream);
        self.tail.extend_from_slice(format!("startxref\n{start}\n%%EOF\n").as_bytes());
        self.tail
    }
}
