/* storage/wire_values.py's walk, compiled: chosen attributes of many protobuf items at once.
 *
 * Ingest keeps each span (or log record) as the bytes the client sent and reads only the
 * workflow attributes of workflow items. Through the protobuf library's objects each attribute
 * costs ~2 us; wire_values' numpy walk 6-7.5 us per workflow span of 8-11 attributes, most of
 * it numpy's per-call overhead on short arrays. This walk reads each item's bytes once (~1 us).
 *
 * It reads the wire format only as far as encoders write it and hands the rest to the callables
 * it is given (the protobuf library, in wire_values), as the numpy walk does:
 * - an item whose top-level fields it cannot walk (groups, invalid wire types, a varint over 64
 *   bits, a field running past the item's end) is reported unsure: the caller decodes it;
 * - a KeyValue not laid out as key (length < 128) then value, once each, is passed whole to
 *   `key_value(bytes) -> (key, value)`;
 * - a value that is not one string, bool, int, double or bytes field filling the AnyValue, or an
 *   array or kvlist of such values laid out so (nested up to anyvalue.MAX_DEPTH), is passed
 *   whole to `any_value(bytes) -> value`.
 * Keys and string values must be UTF-8 (UnicodeDecodeError otherwise: the library refuses such
 * a message too). tests/collector/test_wire_values.py compares both walks with the library.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* AnyValue's oneof as its first tag byte: string 1, bool 2, int 3 (varints), double 4
 * (fixed64), bytes 7. KeyValue: key 1, value 2 (length-delimited). */
enum { STRING = 0x0A, BOOL = 0x10, INT = 0x18, DOUBLE = 0x21, BYTES = 0x3A };
enum { KV_KEY = 0x0A, KV_VALUE = 0x12 };

/* The varint at *pos, read no further than `end`: 0 when truncated or over 64 bits. */
static int read_varint(const uint8_t *buf, Py_ssize_t *pos, Py_ssize_t end, uint64_t *out) {
    uint64_t value = 0;
    Py_ssize_t p = *pos;
    for (int shift = 0;; shift += 7) {
        if (p >= end || shift > 63) return 0;
        uint8_t b = buf[p++];
        if (shift == 63 && (b & 0x7F) > 1) return 0;
        value |= (uint64_t)(b & 0x7F) << shift;
        if (b < 0x80) break;
    }
    *pos = p;
    *out = value;
    return 1;
}

static PyObject *call_on_bytes(PyObject *fn, const uint8_t *buf, Py_ssize_t start, Py_ssize_t stop) {
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)buf + start, stop - start);
    if (bytes == NULL) return NULL;
    PyObject *result = PyObject_CallOneArg(fn, bytes);
    Py_DECREF(bytes);
    return result;
}

/* AnyValue's array_value (5) and kvlist_value (6), and the repeated field of ArrayValue and
 * KeyValueList (values = 1). MAX_DEPTH is anyvalue.MAX_DEPTH: deeper values are the library's. */
enum { ARRAY = 0x2A, KVLIST = 0x32, VALUES = 0x0A, MAX_DEPTH = 32 };

static int decode_value(const uint8_t *buf, Py_ssize_t start, Py_ssize_t stop, int depth, PyObject **out);

/* The one length-delimited field with tag `tag` that fills buf[*start:stop]: 1 and its start in
 * *start when so, 0 when laid out otherwise. */
static int only_field(const uint8_t *buf, Py_ssize_t *start, Py_ssize_t stop, uint8_t tag) {
    Py_ssize_t p = *start;
    uint64_t length;
    if (p >= stop || buf[p] != tag) return 0;
    p++;
    if (!read_varint(buf, &p, stop, &length) || length != (uint64_t)(stop - p)) return 0;
    *start = p;
    return 1;
}

/* The KeyValue buf[start:stop] laid out as key (length < 128) then value, once each: 1 with the
 * key's range and the value's start, 0 when laid out otherwise. */
static int plain_key_value(const uint8_t *buf, Py_ssize_t start, Py_ssize_t stop, Py_ssize_t *key_end,
                           Py_ssize_t *value_start) {
    if (!(start + 1 < stop && buf[start] == KV_KEY && buf[start + 1] < 0x80)) return 0;
    *key_end = start + 2 + buf[start + 1];
    *value_start = *key_end;
    return *key_end < stop && only_field(buf, value_start, stop, KV_VALUE);
}

/* The elements of an ArrayValue (as a list) or KeyValueList (as a dict) in buf[start:stop]. */
static int decode_values(const uint8_t *buf, Py_ssize_t start, Py_ssize_t stop, int depth, int as_dict,
                         PyObject **out) {
    PyObject *values = as_dict ? PyDict_New() : PyList_New(0);
    if (values == NULL) return -1;
    Py_ssize_t pos = start;
    while (pos < stop) {
        Py_ssize_t item = pos;
        uint64_t length;
        if (buf[item] != VALUES) goto not_plain;
        item++;
        if (!read_varint(buf, &item, stop, &length) || length > (uint64_t)(stop - item)) goto not_plain;
        pos = item + (Py_ssize_t)length;
        Py_ssize_t value_start = item, key_end = item;
        if (as_dict && !plain_key_value(buf, item, pos, &key_end, &value_start)) goto not_plain;
        PyObject *value;
        int done = decode_value(buf, value_start, pos, depth + 1, &value);
        if (done <= 0) {
            Py_DECREF(values);
            return done;
        }
        int failed;
        if (as_dict) {
            PyObject *key = PyUnicode_DecodeUTF8((const char *)buf + item + 2, key_end - item - 2, NULL);
            failed = key == NULL || PyDict_SetItem(values, key, value) < 0;
            Py_XDECREF(key);
        } else {
            failed = PyList_Append(values, value) < 0;
        }
        Py_DECREF(value);
        if (failed) {
            Py_DECREF(values);
            return -1;
        }
    }
    *out = values;
    return 1;
not_plain:
    Py_DECREF(values);
    return 0;
}

/* The AnyValue buf[start:stop] as anyvalue.any_value_to_python reads it at `depth`, into *out (a
 * new reference): 1 when done, 0 when laid out as no encoder writes it (the library's reading),
 * -1 with an exception. */
static int decode_value(const uint8_t *buf, Py_ssize_t start, Py_ssize_t stop, int depth, PyObject **out) {
    if (start == stop) {
        *out = Py_NewRef(Py_None);
        return 1;
    }
    uint8_t tag = buf[start];
    Py_ssize_t p = start + 1;
    uint64_t v;
    switch (tag) {
    case STRING:
    case BYTES:
        if (!only_field(buf, &start, stop, tag)) return 0;
        *out = tag == STRING ? PyUnicode_DecodeUTF8((const char *)buf + start, stop - start, NULL)
                             : PyBytes_FromStringAndSize((const char *)buf + start, stop - start);
        return *out == NULL ? -1 : 1;
    case INT:
    case BOOL:
        if (!read_varint(buf, &p, stop, &v) || p != stop) return 0;
        *out = tag == INT ? PyLong_FromLongLong((long long)(int64_t)v) : PyBool_FromLong(v != 0);
        return *out == NULL ? -1 : 1;
    case DOUBLE:
        if (start + 9 != stop) return 0;
        uint64_t bits = 0;
        for (int i = 7; i >= 0; i--) bits = (bits << 8) | buf[start + 1 + i]; /* little-endian */
        double d;
        memcpy(&d, &bits, sizeof d);
        *out = PyFloat_FromDouble(d);
        return *out == NULL ? -1 : 1;
    case ARRAY:
    case KVLIST:
        if (depth >= MAX_DEPTH || !only_field(buf, &start, stop, tag)) return 0;
        return decode_values(buf, start, stop, depth, tag == KVLIST, out);
    }
    return 0;
}

/* The AnyValue buf[start:stop] as a Python value (new reference), or NULL with an exception. */
static PyObject *read_value(const uint8_t *buf, Py_ssize_t start, Py_ssize_t stop, PyObject *any_value) {
    PyObject *value;
    int done = decode_value(buf, start, stop, 0, &value);
    if (done < 0) return NULL;
    return done ? value : call_on_bytes(any_value, buf, start, stop);
}

/* `key` if wanted, else None, asking `wanted` once per distinct key (borrowed reference from
 * `chosen`; steals `key`). NULL with an exception. */
static PyObject *choose(PyObject *chosen, PyObject *wanted, PyObject *key) {
    PyObject *known = PyDict_GetItemWithError(chosen, key);
    if (known != NULL) {
        Py_DECREF(key);
        return known;
    }
    if (PyErr_Occurred()) goto fail;
    PyObject *verdict = PyObject_CallOneArg(wanted, key);
    if (verdict == NULL) goto fail;
    int truth = PyObject_IsTrue(verdict);
    Py_DECREF(verdict);
    if (truth < 0 || PyDict_SetItem(chosen, key, truth ? key : Py_None) < 0) goto fail;
    known = truth ? key : Py_None;
    Py_DECREF(key); /* `chosen` holds it */
    return known;
fail:
    Py_DECREF(key);
    return NULL;
}

/* The keys one call has read, by their bytes: a key seen before (most are, every item naming the
 * same few) is neither decoded nor looked up in `chosen` again (~0.06 us an attribute). Entries
 * point into the caller's buffer and borrow `chosen`'s references, both alive for the call. */
enum { KEY_SLOTS = 256, KEY_SLOTS_FILLED = KEY_SLOTS / 2 };
typedef struct {
    const uint8_t *bytes;
    Py_ssize_t length;
    PyObject *key; /* the wanted key, or Py_None; NULL: an empty slot */
} KnownKey;
typedef struct {
    KnownKey slot[KEY_SLOTS];
    int filled;
} KnownKeys;

static size_t key_slot(const uint8_t *bytes, Py_ssize_t length) {
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (Py_ssize_t i = 0; i < length; i++) hash = (hash ^ bytes[i]) * 16777619u;
    return hash & (KEY_SLOTS - 1);
}

/* The slot holding these key bytes, or the empty slot where they would go (NULL: none left). */
static KnownKey *find_key(KnownKeys *known, const uint8_t *bytes, Py_ssize_t length) {
    size_t at = key_slot(bytes, length);
    for (int probe = 0; probe < KEY_SLOTS; probe++, at = (at + 1) & (KEY_SLOTS - 1)) {
        KnownKey *slot = &known->slot[at];
        if (slot->key == NULL || (slot->length == length && memcmp(slot->bytes, bytes, (size_t)length) == 0))
            return slot;
    }
    return NULL;
}

typedef struct {
    Py_ssize_t *at; /* start, stop pairs */
    Py_ssize_t count, capacity;
} Ranges;

static int push(Ranges *r, Py_ssize_t start, Py_ssize_t stop) {
    if (r->count == r->capacity) {
        Py_ssize_t capacity = r->capacity ? 2 * r->capacity : 64;
        Py_ssize_t *at = PyMem_Realloc(r->at, (size_t)capacity * 2 * sizeof(Py_ssize_t));
        if (at == NULL) {
            PyErr_NoMemory();
            return 0;
        }
        r->at = at;
        r->capacity = capacity;
    }
    r->at[2 * r->count] = start;
    r->at[2 * r->count + 1] = stop;
    r->count++;
    return 1;
}

/* The ranges of the length-delimited top-level fields numbered `field` of buf[start:end]:
 * 0 when the item's fields cannot be walked to its end. */
static int walk_item(const uint8_t *buf, Py_ssize_t start, Py_ssize_t end, uint64_t field, Ranges *kvs, int *ok) {
    Py_ssize_t pos = start;
    uint64_t tag, length;
    *ok = 0;
    kvs->count = 0;
    while (pos < end) {
        if (!read_varint(buf, &pos, end, &tag)) return 1;
        switch (tag & 7) {
        case 2:
            if (!read_varint(buf, &pos, end, &length) || length > (uint64_t)(end - pos)) return 1;
            if ((tag >> 3) == field && !push(kvs, pos, pos + (Py_ssize_t)length)) return 0;
            pos += (Py_ssize_t)length;
            break;
        case 0:
            if (!read_varint(buf, &pos, end, &length)) return 1;
            break;
        case 1:
            pos += 8;
            break;
        case 5:
            pos += 4;
            break;
        default: /* groups (3, 4) and invalid types */
            return 1;
        }
    }
    *ok = pos == end;
    return 1;
}

/* The wanted attributes among the KeyValues in `kvs` into a new dict (NULL with an exception). */
static PyObject *read_attributes(const uint8_t *buf, const Ranges *kvs, PyObject *wanted, PyObject *chosen,
                                 KnownKeys *known, PyObject *key_value, PyObject *any_value) {
    PyObject *found = PyDict_New();
    if (found == NULL) return NULL;
    for (Py_ssize_t k = 0; k < kvs->count; k++) {
        Py_ssize_t start = kvs->at[2 * k], stop = kvs->at[2 * k + 1];
        Py_ssize_t key_end, value_start;
        PyObject *key, *value;
        if (plain_key_value(buf, start, stop, &key_end, &value_start)) {
            const uint8_t *key_bytes = buf + start + 2;
            Py_ssize_t key_length = key_end - start - 2;
            KnownKey *slot = find_key(known, key_bytes, key_length);
            if (slot != NULL && slot->key != NULL) {
                key = slot->key;
            } else {
                PyObject *decoded = PyUnicode_DecodeUTF8((const char *)key_bytes, key_length, NULL);
                if (decoded == NULL || (key = choose(chosen, wanted, decoded)) == NULL) goto fail;
                if (slot != NULL && known->filled < KEY_SLOTS_FILLED) {
                    *slot = (KnownKey){key_bytes, key_length, key};
                    known->filled++;
                }
            }
            if (key == Py_None) continue;
            value = read_value(buf, value_start, stop, any_value);
            if (value == NULL) goto fail;
        } else { /* any other layout: the library's reading */
            PyObject *pair = call_on_bytes(key_value, buf, start, stop);
            if (pair == NULL) goto fail;
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
                Py_DECREF(pair);
                PyErr_SetString(PyExc_TypeError, "key_value must return a (key, value) tuple");
                goto fail;
            }
            PyObject *own_key = PyTuple_GET_ITEM(pair, 0);
            Py_INCREF(own_key);
            if ((key = choose(chosen, wanted, own_key)) == NULL) {
                Py_DECREF(pair);
                goto fail;
            }
            if (key == Py_None) {
                Py_DECREF(pair);
                continue;
            }
            value = PyTuple_GET_ITEM(pair, 1);
            Py_INCREF(value);
            Py_DECREF(pair);
        }
        int failed = PyDict_SetItem(found, key, value) < 0; /* a repeated key: the last wins */
        Py_DECREF(value);
        if (failed) goto fail;
    }
    return found;
fail:
    Py_DECREF(found);
    return NULL;
}

static int int64_buffer(PyObject *obj, Py_buffer *view, const char *name) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return 0;
    if (view->itemsize != 8 || view->format == NULL || strchr("qlQL", view->format[0]) == NULL ||
        view->format[1] != '\0') {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_TypeError, "%s must be a contiguous array of int64", name);
        return 0;
    }
    return 1;
}

PyDoc_STRVAR(attributes_doc,
             "attributes(buf, starts, ends, field, wanted, key_value, any_value) -> (found, unsure)\n\n"
             "For each item buf[starts[i]:ends[i]] (int64 arrays): a dict of the KeyValues of its top-level\n"
             "field `field` whose key is `wanted`, in wire order (a repeated key: the last wins), or None\n"
             "when none is; and the list of the items whose fields could not be walked (None in found).");

static PyObject *attributes(PyObject *self, PyObject *args) {
    Py_buffer data, starts_view, ends_view;
    PyObject *starts_obj, *ends_obj, *wanted, *key_value, *any_value;
    unsigned long long field;
    if (!PyArg_ParseTuple(args, "y*OOKOOO", &data, &starts_obj, &ends_obj, &field, &wanted, &key_value,
                          &any_value))
        return NULL;
    PyObject *result = NULL, *found = NULL, *unsure = NULL, *chosen = NULL;
    KnownKeys *known = NULL;
    Ranges kvs = {NULL, 0, 0};
    int have_starts = int64_buffer(starts_obj, &starts_view, "starts");
    int have_ends = have_starts && int64_buffer(ends_obj, &ends_view, "ends");
    if (!have_ends) goto done;
    if (starts_view.len != ends_view.len) {
        PyErr_SetString(PyExc_ValueError, "starts and ends differ in length");
        goto done;
    }
    Py_ssize_t n = starts_view.len / 8;
    const int64_t *starts = starts_view.buf, *ends = ends_view.buf;
    const uint8_t *buf = data.buf;
    if ((found = PyList_New(n)) == NULL || (unsure = PyList_New(0)) == NULL || (chosen = PyDict_New()) == NULL)
        goto done;
    if ((known = PyMem_Calloc(1, sizeof(KnownKeys))) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = Py_None;
        int ok = 0;
        if (starts[i] < 0 || starts[i] > ends[i] || ends[i] > data.len) {
            PyErr_Format(PyExc_IndexError, "item %zd lies outside the buffer", i);
            goto done;
        }
        if (!walk_item(buf, starts[i], ends[i], field, &kvs, &ok)) goto done;
        if (!ok) {
            PyObject *index = PyLong_FromSsize_t(i);
            int failed = index == NULL || PyList_Append(unsure, index) < 0;
            Py_XDECREF(index);
            if (failed) goto done;
        } else if (kvs.count) {
            PyObject *attrs = read_attributes(buf, &kvs, wanted, chosen, known, key_value, any_value);
            if (attrs == NULL) goto done;
            if (PyDict_GET_SIZE(attrs))
                item = attrs;
            else
                Py_DECREF(attrs);
        }
        if (item == Py_None) Py_INCREF(Py_None);
        PyList_SET_ITEM(found, i, item);
    }
    result = PyTuple_Pack(2, found, unsure);
done:
    PyMem_Free(kvs.at);
    PyMem_Free(known);
    Py_XDECREF(found);
    Py_XDECREF(unsure);
    Py_XDECREF(chosen);
    if (have_ends) PyBuffer_Release(&ends_view);
    if (have_starts) PyBuffer_Release(&starts_view);
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef methods[] = {
    {"attributes", attributes, METH_VARARGS, attributes_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_wire_walk", "storage/wire_values.py's walk, compiled.", -1, methods,
};

PyMODINIT_FUNC PyInit__wire_walk(void) { return PyModule_Create(&module); }
