# ObjectRefs seen from C: made for submitted tasks, read by wait_ready, and
# kept off the garbage collector.  Included by _scheduler.pyx.

def untrack(ref) -> None:
    """Takes an ObjectRef off the cyclic garbage collector's lists.  Its slots
    hold only ints, so it can never be part of a cycle; tracked, every batch
    of thousands of refs (a list of task results, a value holding refs) would
    survive into the oldest generation and trigger full collections, whose
    cost grows with everything else the program holds."""
    PyObject_GC_UnTrack(<PyObject *>ref)


cpdef list new_refs(ref_type, uint64_t first_id, uint32_t count, generation):
    """count refs of ref_type (ObjectRef) to ids first_id, first_id + 1, ...,
    already counted by the runtime (ObjectRef(..., adopt=True)): allocated
    and filled here, by slot offset, and kept off the garbage collector as
    ObjectRef.__init__ does, without running any Python."""
    cdef Py_ssize_t id_at, gen_at
    ref_slots(ref_type, &id_at, &gen_at)
    cdef list refs = PyList_New(count)
    cdef uint32_t i
    for i in range(count):
        put_ref(refs, i, ref_type, id_at, gen_at, first_id + i, generation)
    return refs


cdef list refs_to(ref_type, list ids, generation):
    """Refs of ref_type to ids (ints), already counted, as new_refs makes them."""
    cdef Py_ssize_t id_at, gen_at
    ref_slots(ref_type, &id_at, &gen_at)
    cdef Py_ssize_t n = len(ids)
    cdef list refs = PyList_New(n)
    cdef Py_ssize_t i
    for i in range(n):
        put_ref(refs, i, ref_type, id_at, gen_at, ids[i], generation)
    return refs


cdef inline void put_ref(list refs, Py_ssize_t i, ref_type, Py_ssize_t id_at,
                         Py_ssize_t gen_at, object object_id, object generation) except *:
    # What object.__new__ does for a class without __new__ of its own
    # (ref_slots checked), without looking __new__ up and calling it.
    cdef object ref = PyType_GenericAlloc(<PyTypeObject *>ref_type, 0)
    Py_INCREF(object_id)
    (<PyObject **>(<char *><PyObject *>ref + id_at))[0] = <PyObject *>object_id
    Py_INCREF(generation)
    (<PyObject **>(<char *><PyObject *>ref + gen_at))[0] = <PyObject *>generation
    PyObject_GC_UnTrack(<PyObject *>ref)
    Py_INCREF(ref)
    PyList_SET_ITEM(refs, i, ref)


# The ref type whose slot offsets were found last, and those offsets: a type's
# layout never changes, so they are looked up again only for another type.
cdef object refs_type = None
cdef Py_ssize_t refs_id_at = 0
cdef Py_ssize_t refs_gen_at = 0


cdef int ref_slots(ref_type, Py_ssize_t *id_at, Py_ssize_t *gen_at) except -1:
    """The offsets of ref_type's _id and _generation slots (slot_offset),
    found once per type; ref_type must be made as object.__new__ makes it."""
    global refs_type, refs_id_at, refs_gen_at
    if ref_type is not refs_type:
        if ref_type.__new__ is not object.__new__:
            raise TypeError(f"{ref_type.__name__} defines __new__: refs cannot be made in C")
        refs_id_at = slot_offset(ref_type, "_id")
        refs_gen_at = slot_offset(ref_type, "_generation")
        refs_type = ref_type
    id_at[0] = refs_id_at
    gen_at[0] = refs_gen_at
    return 0


cdef Py_ssize_t slot_offset(cls, str name) except -1:
    """Where a ``__slots__`` attribute of cls sits in its instances, so a
    loop over thousands of them reads it without an attribute lookup.
    Used by new_refs and Scheduler.wait_ready on ObjectRef
    (fastray/object_ref.py, whose __slots__ say so).  Safe because the offset is read from the class's own
    member descriptor each call (a TypeError if the name stops being a slot)
    and only instances of exactly that class are read, never subclasses,
    whose layout could differ; a slot never assigned reads as NULL."""
    descriptor = cls.__dict__.get(name)
    if type(descriptor) is not MemberDescriptorType:
        raise TypeError(f"{cls.__name__}.{name} is not a __slots__ attribute")
    return (<PyMemberDescrObject *>descriptor).d_member.offset
