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


# The header of a payload holding a plain value in one inline part (see
# fastray/serialization.py): u8 kind, u32 parts (1), u8 where (inline),
# u64 size, u64 blob id, u64 offset; the pickle follows.
cdef enum:
    ONE_INLINE_HEADER = 30


cdef bint inline_pickle(Obj *o, string &pickled) noexcept nogil:
    """The pickle of a ready object whose value is plain and inline (no
    blob, no ref inside it), copied into pickled; False for any other."""
    cdef const char *p = o.payload.data()
    cdef uint32_t parts
    cdef uint64_t size
    if (o.state != FR_OBJ_READY or not o.contains.empty()
            or o.payload.size() < ONE_INLINE_HEADER or <uint8_t>p[0] != FR_PAYLOAD_VALUE
            or p[5] != 0):
        return False
    memcpy(&parts, p + 1, 4)
    memcpy(&size, p + 6, 8)
    if parts != 1 or size != o.payload.size() - ONE_INLINE_HEADER:
        return False
    pickled.assign(p + ONE_INLINE_HEADER, size)
    return True


cdef object ready_plain_values(Core *c, ids, loads):
    """get's quickest path: the values of objects that are all ready, plain
    and inline, unpickled by loads (each id once), taken under one lock;
    None if any is not (the caller takes the general path)."""
    cdef vector[uint64_t] idv
    cdef vector[string] pickles
    cdef size_t i
    cdef Obj *o
    cdef bint plain = True
    for d in ids:
        idv.push_back(d)
    pickles.resize(idv.size())
    with nogil:
        lock_core(c)
        for i in range(idv.size()):
            o = find_obj(c, idv[i])
            if o == NULL or not inline_pickle(o, pickles[i]):
                plain = False
                break
            o.retrieved = True
        pthread_mutex_unlock(&c.mu)
    if not plain:
        return None
    if idv.size() == 1:
        return [loads(PyBytes_FromStringAndSize(pickles[0].data(), pickles[0].size()))]
    values = {}
    out = []
    for i in range(idv.size()):
        value = values.get(idv[i], values)
        if value is values:
            value = values[idv[i]] = loads(
                PyBytes_FromStringAndSize(pickles[i].data(), pickles[i].size()))
        out.append(value)
    return out
