# Encoding and decoding of frame bodies (protocol.h): appending fixed-width
# little-endian integers and payloads to an outgoing frame, and a Cursor that
# reads them back from an incoming one without ever reading past its end (a
# short or malformed body sets ``bad`` instead).


cdef struct Cursor:
    const char *p
    const char *end
    bint bad


cdef inline void put_header(string &out, uint32_t body_len, uint32_t kind,
                            uint64_t a, uint64_t b) noexcept nogil:
    cdef fr_header h
    h.body_len = body_len
    h.type = kind
    h.a = a
    h.b = b
    out.append(<const char *>&h, FR_HEADER_SIZE)


cdef inline void put_u32(string &out, uint32_t v) noexcept nogil:
    out.append(<const char *>&v, 4)


cdef inline void put_u64(string &out, uint64_t v) noexcept nogil:
    out.append(<const char *>&v, 8)


cdef inline uint32_t get_u32(Cursor *c) noexcept nogil:
    cdef uint32_t v = 0
    if c.end - c.p < 4:
        c.bad = True
        return 0
    memcpy(&v, c.p, 4)
    c.p += 4
    return v


cdef inline uint64_t get_u64(Cursor *c) noexcept nogil:
    cdef uint64_t v = 0
    if c.end - c.p < 8:
        c.bad = True
        return 0
    memcpy(&v, c.p, 8)
    c.p += 8
    return v


cdef inline void get_bytes(Cursor *c, size_t n, string &into) noexcept nogil:
    if <size_t>(c.end - c.p) < n:
        c.bad = True
        return
    into.assign(c.p, n)
    c.p += n


cdef void get_ids(Cursor *c, vector[uint64_t] &into) noexcept nogil:
    cdef uint32_t n = get_u32(c)
    cdef uint32_t i
    if c.bad or <size_t>(c.end - c.p) < <size_t>n * 8:
        c.bad = True
        return
    into.reserve(n)
    for i in range(n):
        into.push_back(get_u64(c))


cdef string text_payload(uint8_t kind, const char *text) noexcept nogil:
    cdef string s
    s.push_back(<char>kind)
    s.append(text)
    return s


cdef string STORE_FULL_PAYLOAD = text_payload(
    FR_PAYLOAD_STORE_FULL, b"a spilled object could not be read back: the object store stayed "
    b"full of objects in use; drop references you no longer need or pass a larger "
    b"object_store_memory to fastray.init()")


cdef object parse_fetched(const string &data):
    """(payload, [(blob id, offset, size), ...]) from what put_payload wrote."""
    cdef Cursor cur
    cdef uint64_t size
    cdef uint32_t n, i
    cur.p = data.data()
    cur.end = cur.p + data.size()
    cur.bad = False
    size = get_u64(&cur)
    payload = PyBytes_FromStringAndSize(cur.p, size)
    cur.p += size
    n = get_u32(&cur)
    locations = []
    for i in range(n):
        locations.append((get_u64(&cur), get_u64(&cur), get_u64(&cur)))
    return payload, locations
