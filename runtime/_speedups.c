/* Compiled Avro codecs for generated models: schemabus.runtime._speedups (with the delivery counter
 * of publish_many, runtime/_delivery_counter.c).
 *
 * Generated codecs describe each record as a codec program (nested tuples, see the opcodes in
 * runtime/avro.py). Encoder(program, header) and Decoder(program) check the program once and turn
 * it into a tree of C nodes. Encoder.encode(model) walks that tree over the model's attributes and
 * returns the header followed by the Avro binary encoding, byte for byte what the generated Python
 * writer (and fastavro.schemaless_writer) writes; Decoder.read(buffer, position) returns the model
 * and the end position, as the generated Python reader does. Anything the program hands back to
 * Python (CONVERT, PYTHON, non-UTC time zones, out-of-range timestamps, non-canonical UUIDs) is
 * called as Python code, so the two paths share one definition of every conversion.
 *
 * The module is optional: without it (no compiler at install time, or SCHEMABUS_NO_SPEEDUPS=1) the
 * generated Python writers do the same work, slower.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>
#include <string.h>

#include "_speedups.h"

/* Opcodes: keep in step with runtime/avro.py. */
enum {
    OP_NULL = 0,
    OP_BOOLEAN = 1,
    OP_INT = 2,
    OP_LONG = 3,
    OP_FLOAT = 4,
    OP_DOUBLE = 5,
    OP_BYTES = 6,
    OP_STRING = 7,
    OP_FIXED = 8,
    OP_ENUM = 9,
    OP_ARRAY = 10,
    OP_MAP = 11,
    OP_OPTIONAL = 12,
    OP_RECORD = 13,
    OP_UUID = 14,
    OP_TIMESTAMP = 15,
    OP_CONVERT = 16,
    OP_PYTHON = 17,
    OP_COUNT = 18,
};

static PyObject *uuid_type;  /* uuid.UUID */
static PyObject *safe_uuid_unknown; /* uuid.SafeUUID.unknown */
static PyObject *avro_decode_error; /* schemabus.runtime.avro.AvroDecodeError */
static PyObject *avro_truncated_error; /* schemabus.runtime.avro.AvroTruncatedError (an IndexError too) */
static PyObject *empty_tuple;
static PyObject *str_int;    /* "int" */
static PyObject *str_is_safe, *str_dict, *str_fields_set, *str_extra, *str_private;
static PyObject *str_utcoffset;
static PyObject *sixty_four; /* 64 */

/* ---- output buffer ------------------------------------------------------------------------- */

typedef struct {
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
    char inline_buf[512];
} Buf;

static void buf_init(Buf *b) {
    b->data = b->inline_buf;
    b->len = 0;
    b->cap = (Py_ssize_t)sizeof(b->inline_buf);
}

static void buf_free(Buf *b) {
    if (b->data != b->inline_buf) PyMem_Free(b->data);
}

static int buf_grow(Buf *b, Py_ssize_t extra) {
    Py_ssize_t need = b->len + extra;
    if (need <= b->cap) return 0;
    Py_ssize_t cap = b->cap;
    while (cap < need) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *data;
    if (b->data == b->inline_buf) {
        data = PyMem_Malloc((size_t)cap);
        if (data != NULL) memcpy(data, b->data, (size_t)b->len);
    } else {
        data = PyMem_Realloc(b->data, (size_t)cap);
    }
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static inline int buf_put(Buf *b, const void *src, Py_ssize_t n) {
    if (b->len + n > b->cap && buf_grow(b, n) < 0) return -1;
    memcpy(b->data + b->len, src, (size_t)n);
    b->len += n;
    return 0;
}

static inline int buf_byte(Buf *b, unsigned char c) {
    if (b->len + 1 > b->cap && buf_grow(b, 1) < 0) return -1;
    b->data[b->len++] = (char)c;
    return 0;
}

/* A zig-zag varint of a signed 64-bit value. */
static inline int buf_long(Buf *b, int64_t n) {
    if (b->len + 10 > b->cap && buf_grow(b, 10) < 0) return -1;
    uint64_t z = ((uint64_t)n << 1) ^ (uint64_t)(n >> 63);
    unsigned char *p = (unsigned char *)b->data + b->len;
    while (z > 0x7F) {
        *p++ = (unsigned char)((z & 0x7F) | 0x80);
        z >>= 7;
    }
    *p++ = (unsigned char)z;
    b->len = (Py_ssize_t)((char *)p - b->data);
    return 0;
}

/* A length or block count, then the bytes themselves. */
static inline int buf_sized(Buf *b, const char *src, Py_ssize_t n) {
    if (buf_long(b, (int64_t)n) < 0) return -1;
    return buf_put(b, src, n);
}

/* ---- program nodes ------------------------------------------------------------------------- */

typedef struct Node Node;
struct Node {
    int op;
    Py_ssize_t size;         /* FIXED: byte count; TIMESTAMP: 1 (micros) or 1000 (millis); RECORD/ENUM: entries */
    unsigned char null_byte; /* OPTIONAL: the encoded branch indexes */
    unsigned char value_byte;
    /* Borrowed from the program (which the Encoder/Decoder keeps alive): */
    PyObject *to_wire;       /* ENUM: member -> bytes table; TIMESTAMP/CONVERT: conversion; PYTHON: writer */
    PyObject *from_wire;     /* ENUM: members by index; TIMESTAMP/CONVERT: inverse; PYTHON: reader */
    PyObject *cls;           /* RECORD: the model class; ENUM: the enum's name (for errors) */
    PyObject *fields_set;    /* RECORD: the names of every field */
    PyObject **keys;         /* RECORD: attribute names; ENUM: members */
    PyObject **values;       /* ENUM: encoded symbols (bytes) */
    Node *children;          /* RECORD: one per field; ARRAY/MAP/OPTIONAL/CONVERT: one */
};

static void node_clear(Node *n) {
    if (n->children != NULL) {
        Py_ssize_t count = n->op == OP_RECORD ? n->size : 1;
        for (Py_ssize_t i = 0; i < count; i++) node_clear(&n->children[i]);
        PyMem_Free(n->children);
    }
    if (n->op == OP_ENUM && n->keys != NULL) { /* the only owned references: the table may change */
        for (Py_ssize_t i = 0; i < n->size; i++) {
            Py_XDECREF(n->keys[i]);
            Py_XDECREF(n->values[i]);
        }
    }
    PyMem_Free(n->keys);
    PyMem_Free(n->values);
    memset(n, 0, sizeof(*n));
}

static int bad_program(const char *what) {
    PyErr_Format(PyExc_ValueError, "invalid codec program: %s", what);
    return -1;
}

static int node_compile(Node *n, PyObject *spec, int depth);

static int compile_child(Node *n, PyObject *spec, int depth) {
    n->children = PyMem_Calloc(1, sizeof(Node));
    if (n->children == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return node_compile(n->children, spec, depth + 1);
}

static int small_index(PyObject *o, unsigned char *out) {
    long i = PyLong_Check(o) ? PyLong_AsLong(o) : -1;
    if (i < 0 || i > 63) {
        if (!PyErr_Occurred()) bad_program("a union branch index must be an int from 0 to 63");
        return -1;
    }
    *out = (unsigned char)(i << 1);
    return 0;
}

static int node_compile(Node *n, PyObject *spec, int depth) {
    memset(n, 0, sizeof(*n));
    if (depth > 200) return bad_program("nested too deeply (a recursive type must use PYTHON)");
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) < 1 || !PyLong_Check(PyTuple_GET_ITEM(spec, 0)))
        return bad_program("a node is a tuple starting with an opcode");
    long op = PyLong_AsLong(PyTuple_GET_ITEM(spec, 0));
    if (op < 0 || op >= OP_COUNT) return bad_program("unknown opcode");
    n->op = (int)op;
    Py_ssize_t argc = PyTuple_GET_SIZE(spec) - 1;
    PyObject *a1 = argc >= 1 ? PyTuple_GET_ITEM(spec, 1) : NULL;
    PyObject *a2 = argc >= 2 ? PyTuple_GET_ITEM(spec, 2) : NULL;
    switch (op) {
    case OP_NULL: case OP_BOOLEAN: case OP_INT: case OP_LONG: case OP_FLOAT: case OP_DOUBLE:
    case OP_BYTES: case OP_STRING: case OP_UUID:
        return argc == 0 ? 0 : bad_program("this opcode takes no arguments");
    case OP_FIXED:
        if (argc != 1 || !PyLong_Check(a1)) return bad_program("FIXED takes a size");
        n->size = PyLong_AsSsize_t(a1);
        return n->size < 0 ? bad_program("FIXED takes a size") : 0;
    case OP_ENUM: {
        if (argc != 3 || !PyDict_CheckExact(a1) || !PyTuple_Check(a2) || !PyUnicode_Check(PyTuple_GET_ITEM(spec, 3)))
            return bad_program("ENUM takes the member -> bytes table, the members by index and the enum's name");
        n->to_wire = a1;
        n->from_wire = a2;
        n->cls = PyTuple_GET_ITEM(spec, 3);
        n->size = PyDict_GET_SIZE(a1);
        n->keys = PyMem_Calloc((size_t)n->size + 1, sizeof(PyObject *));
        n->values = PyMem_Calloc((size_t)n->size + 1, sizeof(PyObject *));
        if (n->keys == NULL || n->values == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        Py_ssize_t pos = 0, i = 0;
        PyObject *k, *v;
        while (PyDict_Next(a1, &pos, &k, &v) && i < n->size) {
            if (!PyBytes_CheckExact(v)) return bad_program("ENUM symbols are encoded as bytes");
            n->keys[i] = Py_NewRef(k);
            n->values[i++] = Py_NewRef(v);
        }
        return 0;
    }
    case OP_ARRAY: case OP_MAP:
        if (argc != 1) return bad_program("ARRAY and MAP take one node");
        return compile_child(n, a1, depth);
    case OP_OPTIONAL:
        if (argc != 3) return bad_program("OPTIONAL takes the null index, the value index and a node");
        if (small_index(a1, &n->null_byte) < 0 || small_index(a2, &n->value_byte) < 0) return -1;
        return compile_child(n, PyTuple_GET_ITEM(spec, 3), depth);
    case OP_RECORD: {
        if (argc != 3 || !PyTuple_Check(a1) || !PyType_Check(a2) || ((PyTypeObject *)a2)->tp_new == NULL ||
            !PyAnySet_Check(PyTuple_GET_ITEM(spec, 3)))
            return bad_program("RECORD takes a tuple of (attribute, node), the model class and its field names");
        n->cls = a2;
        n->fields_set = PyTuple_GET_ITEM(spec, 3);
        n->size = PyTuple_GET_SIZE(a1);
        n->keys = PyMem_Calloc((size_t)n->size + 1, sizeof(PyObject *));
        n->children = PyMem_Calloc((size_t)n->size + 1, sizeof(Node));
        if (n->keys == NULL || n->children == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < n->size; i++) {
            PyObject *f = PyTuple_GET_ITEM(a1, i);
            if (!PyTuple_Check(f) || PyTuple_GET_SIZE(f) != 2 || !PyUnicode_CheckExact(PyTuple_GET_ITEM(f, 0)))
                return bad_program("a RECORD field is an (attribute name, node) pair");
            n->keys[i] = PyTuple_GET_ITEM(f, 0);
            if (node_compile(&n->children[i], PyTuple_GET_ITEM(f, 1), depth + 1) < 0) return -1;
        }
        return 0;
    }
    case OP_TIMESTAMP:
        if (argc != 3 || !PyLong_Check(a1) || !PyCallable_Check(a2) || !PyCallable_Check(PyTuple_GET_ITEM(spec, 3)))
            return bad_program("TIMESTAMP takes 1 or 1000 (micros or millis) and the conversions to and from the number");
        n->size = PyLong_AsSsize_t(a1);
        n->to_wire = a2;
        n->from_wire = PyTuple_GET_ITEM(spec, 3);
        return (n->size == 1 || n->size == 1000) ? 0 : bad_program("the TIMESTAMP unit is 1 or 1000");
    case OP_CONVERT:
        if (argc != 3 || !PyCallable_Check(a1) || !PyCallable_Check(PyTuple_GET_ITEM(spec, 3)))
            return bad_program("CONVERT takes a conversion, a node and the inverse conversion");
        n->to_wire = a1;
        n->from_wire = PyTuple_GET_ITEM(spec, 3);
        return compile_child(n, a2, depth);
    case OP_PYTHON:
        if (argc != 2 || !PyCallable_Check(a1) || !PyCallable_Check(a2))
            return bad_program("PYTHON takes a writer(value, bytearray) and a reader(buffer, position)");
        n->to_wire = a1;
        n->from_wire = a2;
        return 0;
    }
    return bad_program("unknown opcode");
}

/* ---- encoding ------------------------------------------------------------------------------ */

static int wrong_type(PyObject *v, const char *expected) {
    PyErr_Format(PyExc_TypeError, "expected %s, got %.200s", expected, Py_TYPE(v)->tp_name);
    return -1;
}

static int encode_node(const Node *n, PyObject *v, Buf *b);

static int encode_integer(PyObject *v, Buf *b, int is_int) {
    if (!PyLong_Check(v)) return wrong_type(v, "an int");
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (overflow || (is_int && (x < INT32_MIN || x > INT32_MAX))) {
        PyObject *r = PyObject_Repr(v);
        if (r != NULL) {
            PyErr_Format(PyExc_ValueError, "%U is out of range for an Avro %s", r, is_int ? "int" : "long");
            Py_DECREF(r);
        }
        return -1;
    }
    return buf_long(b, (int64_t)x);
}

static const char HEX[] = "0123456789abcdef";

static int encode_uuid(PyObject *v, Buf *b) {
    if (Py_TYPE(v) != (PyTypeObject *)uuid_type) {
        /* A subclass or another type: its own str(), as the Python writer does. */
        PyObject *s = PyObject_Str(v);
        if (s == NULL) return -1;
        Py_ssize_t len;
        const char *u = PyUnicode_AsUTF8AndSize(s, &len);
        int rc = u == NULL ? -1 : buf_sized(b, u, len);
        Py_DECREF(s);
        return rc;
    }
    PyObject *i = PyObject_GetAttr(v, str_int);
    if (i == NULL) return -1;
    if (!PyLong_Check(i)) {
        Py_DECREF(i);
        return wrong_type(v, "a UUID with an int");
    }
    unsigned long long lo = PyLong_AsUnsignedLongLongMask(i);
    PyObject *h = PyNumber_Rshift(i, sixty_four);
    Py_DECREF(i);
    if (h == NULL || (lo == (unsigned long long)-1 && PyErr_Occurred())) {
        Py_XDECREF(h);
        return -1;
    }
    unsigned long long hi = PyLong_AsUnsignedLongLongMask(h);
    Py_DECREF(h);
    if (hi == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    if (b->len + 37 > b->cap && buf_grow(b, 37) < 0) return -1;
    char *p = b->data + b->len;
    *p++ = 72; /* 36 characters */
    unsigned char raw[16];
    for (int k = 0; k < 8; k++) {
        raw[k] = (unsigned char)(hi >> (56 - 8 * k));
        raw[8 + k] = (unsigned char)(lo >> (56 - 8 * k));
    }
    for (int k = 0; k < 16; k++) {
        if (k == 4 || k == 6 || k == 8 || k == 10) *p++ = '-';
        *p++ = HEX[raw[k] >> 4];
        *p++ = HEX[raw[k] & 15];
    }
    b->len += 37;
    return 0;
}

/* Days from 1970-01-01 to a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d) {
    static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int64_t y1 = y - 1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int64_t ordinal = y1 * 365 + y1 / 4 - y1 / 100 + y1 / 400 + before[m - 1] + (m > 2 && leap) + d;
    return ordinal - 719163; /* date(1970, 1, 1).toordinal() */
}

static int64_t floor_div(int64_t a, int64_t d) {
    int64_t q = a / d;
    return (a % d != 0 && (a < 0) != (d < 0)) ? q - 1 : q;
}

static int encode_converted(const Node *n, PyObject *v, Buf *b) {
    PyObject *x = PyObject_CallOneArg(n->to_wire, v);
    if (x == NULL) return -1;
    int rc = n->op == OP_TIMESTAMP ? encode_integer(x, b, 0) : encode_node(n->children, x, b);
    Py_DECREF(x);
    return rc;
}

static int encode_timestamp(const Node *n, PyObject *v, Buf *b) {
    if (!PyDateTime_CheckExact(v)) return encode_converted(n, v, b);
    PyObject *tz = PyDateTime_DATE_GET_TZINFO(v);
    int64_t offset_us = 0;
    if (tz == Py_None) return encode_converted(n, v, b); /* the conversion raises its own error */
    if (tz != PyDateTime_TimeZone_UTC) {
        PyObject *off = PyObject_CallMethodNoArgs(v, str_utcoffset); /* datetime checks the offset's range */
        if (off == NULL) return -1;
        if (!PyDelta_CheckExact(off)) {
            Py_DECREF(off);
            return encode_converted(n, v, b);
        }
        offset_us = ((int64_t)PyDateTime_DELTA_GET_DAYS(off) * 86400 + PyDateTime_DELTA_GET_SECONDS(off)) * 1000000 +
                    PyDateTime_DELTA_GET_MICROSECONDS(off);
        Py_DECREF(off);
    }
    int64_t days = days_from_civil(PyDateTime_GET_YEAR(v), PyDateTime_GET_MONTH(v), PyDateTime_GET_DAY(v));
    int64_t secs = days * 86400 + PyDateTime_DATE_GET_HOUR(v) * 3600 + PyDateTime_DATE_GET_MINUTE(v) * 60 +
                   PyDateTime_DATE_GET_SECOND(v);
    int64_t micros = secs * 1000000 + PyDateTime_DATE_GET_MICROSECOND(v) - offset_us;
    return buf_long(b, n->size == 1 ? micros : floor_div(micros, 1000));
}

static int encode_bytes(PyObject *v, Buf *b, Py_ssize_t fixed) {
    Py_buffer view;
    if (PyBytes_CheckExact(v)) {
        view.buf = PyBytes_AS_STRING(v);
        view.len = PyBytes_GET_SIZE(v);
        view.obj = NULL;
    } else if (PyObject_GetBuffer(v, &view, PyBUF_SIMPLE) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_TypeError)) return -1;
        PyErr_Clear();
        return wrong_type(v, "bytes");
    }
    int rc;
    if (fixed >= 0) {
        if (view.len != fixed) {
            PyErr_Format(PyExc_ValueError, "fixed needs %zd bytes, not %zd", fixed, view.len);
            rc = -1;
        } else {
            rc = buf_put(b, view.buf, view.len);
        }
    } else {
        rc = buf_sized(b, view.buf, view.len);
    }
    if (view.obj != NULL) PyBuffer_Release(&view);
    return rc;
}

static int encode_string(PyObject *v, Buf *b) {
    if (!PyUnicode_Check(v)) return wrong_type(v, "a str");
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(v, &len);
    if (s == NULL) return -1;
    return buf_sized(b, s, len);
}

static int encode_items(const Node *n, PyObject *v, Buf *b) {
    PyObject *seq = PySequence_Fast(v, "an Avro array needs a list");
    if (seq == NULL) return -1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    int rc = 0;
    if (count > 0) {
        rc = buf_long(b, (int64_t)count);
        for (Py_ssize_t i = 0; rc == 0 && i < count; i++) {
            if (i >= PySequence_Fast_GET_SIZE(seq)) {
                PyErr_SetString(PyExc_RuntimeError, "the list changed size while it was encoded");
                rc = -1;
                break;
            }
            PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
            Py_INCREF(item);
            rc = encode_node(n->children, item, b);
            Py_DECREF(item);
        }
    }
    Py_DECREF(seq);
    return rc < 0 ? -1 : buf_byte(b, 0);
}

static int encode_entries(const Node *n, PyObject *v, Buf *b) {
    int has_items = PyObject_HasAttrString(v, "items");
    if (!has_items) return wrong_type(v, "a dict");
    PyObject *items = PyMapping_Items(v); /* any mapping, as x.items() gives its entries */
    if (items == NULL) return -1;
    Py_ssize_t count = PyList_GET_SIZE(items);
    int rc = 0;
    if (count > 0) {
        rc = buf_long(b, (int64_t)count);
        for (Py_ssize_t i = 0; rc == 0 && i < count; i++) {
            PyObject *pair = PyList_GET_ITEM(items, i);
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
                rc = wrong_type(pair, "a (key, value) pair");
                break;
            }
            rc = encode_string(PyTuple_GET_ITEM(pair, 0), b);
            if (rc == 0) rc = encode_node(n->children, PyTuple_GET_ITEM(pair, 1), b);
        }
    }
    Py_DECREF(items);
    return rc < 0 ? -1 : buf_byte(b, 0);
}

static int encode_dict_entries(const Node *n, PyObject *v, Buf *b) {
    /* The common case without building a list of pairs: an exact dict, not changed while encoding
       (nothing in this walk calls Python code unless a value's node does). */
    Py_ssize_t count = PyDict_GET_SIZE(v);
    if (count > 0) {
        if (buf_long(b, (int64_t)count) < 0) return -1;
        Py_ssize_t pos = 0;
        PyObject *k, *x;
        while (PyDict_Next(v, &pos, &k, &x)) {
            if (PyDict_GET_SIZE(v) != count) {
                PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
                return -1;
            }
            Py_INCREF(k);
            Py_INCREF(x);
            int rc = encode_string(k, b);
            if (rc == 0) rc = encode_node(n->children, x, b);
            Py_DECREF(k);
            Py_DECREF(x);
            if (rc < 0) return -1;
        }
        if (PyDict_GET_SIZE(v) != count) {
            PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
            return -1;
        }
    }
    return buf_byte(b, 0);
}

static int encode_record(const Node *n, PyObject *v, Buf *b) {
    if (Py_EnterRecursiveCall(" while encoding an Avro record")) return -1;
    int rc = 0;
    for (Py_ssize_t i = 0; i < n->size; i++) {
        PyObject *x = PyObject_GetAttr(v, n->keys[i]);
        if (x == NULL) {
            rc = -1;
            break;
        }
        rc = encode_node(&n->children[i], x, b);
        Py_DECREF(x);
        if (rc < 0) {
            if (PyErr_ExceptionMatches(PyExc_TypeError) || PyErr_ExceptionMatches(PyExc_ValueError)) {
                /* Name the field, innermost first: "... (field capabilities)". */
                PyObject *type, *value, *tb;
                PyErr_Fetch(&type, &value, &tb);
                PyErr_NormalizeException(&type, &value, &tb);
                PyObject *note = PyUnicode_FromFormat("in field %U", n->keys[i]);
                if (note != NULL && value != NULL) {
                    PyObject *r = PyObject_CallMethod(value, "add_note", "O", note);
                    Py_XDECREF(r);
                    PyErr_Clear();
                }
                Py_XDECREF(note);
                PyErr_Restore(type, value, tb);
            }
            break;
        }
    }
    Py_LeaveRecursiveCall();
    return rc;
}

static int encode_enum(const Node *n, PyObject *v, Buf *b) {
    for (Py_ssize_t i = 0; i < n->size; i++) {
        if (n->keys[i] == v) return buf_put(b, PyBytes_AS_STRING(n->values[i]), PyBytes_GET_SIZE(n->values[i]));
    }
    PyObject *enc = PyDict_GetItemWithError(n->to_wire, v); /* equal but not identical (a str for a str enum) */
    if (enc != NULL && !PyBytes_Check(enc)) return wrong_type(enc, "bytes in the enum table");
    if (enc == NULL) {
        if (!PyErr_Occurred()) {
            PyObject *r = PyObject_Repr(v);
            if (r != NULL) {
                PyErr_Format(PyExc_ValueError, "%U is not a symbol of %U", r, n->cls);
                Py_DECREF(r);
            }
        }
        return -1;
    }
    return buf_put(b, PyBytes_AS_STRING(enc), PyBytes_GET_SIZE(enc));
}

static int encode_python(const Node *n, PyObject *v, Buf *b) {
    PyObject *out = PyByteArray_FromStringAndSize(NULL, 0);
    if (out == NULL) return -1;
    PyObject *r = PyObject_CallFunctionObjArgs(n->to_wire, v, out, NULL);
    int rc = -1;
    if (r != NULL) {
        Py_DECREF(r);
        rc = buf_put(b, PyByteArray_AS_STRING(out), PyByteArray_GET_SIZE(out));
    }
    Py_DECREF(out);
    return rc;
}

static int encode_node(const Node *n, PyObject *v, Buf *b) {
    switch (n->op) {
    case OP_NULL:
        return v == Py_None ? 0 : wrong_type(v, "None");
    case OP_BOOLEAN: {
        int t = PyObject_IsTrue(v);
        return t < 0 ? -1 : buf_byte(b, (unsigned char)t);
    }
    case OP_INT:
        return encode_integer(v, b, 1);
    case OP_LONG:
        return encode_integer(v, b, 0);
    case OP_FLOAT: case OP_DOUBLE: {
        double d = PyFloat_AsDouble(v);
        if (d == -1.0 && PyErr_Occurred()) {
            if (PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Clear();
                return wrong_type(v, "a float");
            }
            return -1;
        }
        if (b->len + 8 > b->cap && buf_grow(b, 8) < 0) return -1;
        int rc = n->op == OP_FLOAT ? PyFloat_Pack4(d, b->data + b->len, 1) : PyFloat_Pack8(d, b->data + b->len, 1);
        if (rc < 0) return -1;
        b->len += n->op == OP_FLOAT ? 4 : 8;
        return 0;
    }
    case OP_BYTES:
        return encode_bytes(v, b, -1);
    case OP_FIXED:
        return encode_bytes(v, b, n->size);
    case OP_STRING:
        return encode_string(v, b);
    case OP_ENUM:
        return encode_enum(n, v, b);
    case OP_ARRAY:
        return encode_items(n, v, b);
    case OP_MAP:
        return PyDict_CheckExact(v) ? encode_dict_entries(n, v, b) : encode_entries(n, v, b);
    case OP_OPTIONAL:
        if (v == Py_None) return buf_byte(b, n->null_byte);
        if (buf_byte(b, n->value_byte) < 0) return -1;
        return encode_node(n->children, v, b);
    case OP_RECORD:
        return encode_record(n, v, b);
    case OP_UUID:
        return encode_uuid(v, b);
    case OP_TIMESTAMP:
        return encode_timestamp(n, v, b);
    case OP_CONVERT:
        return encode_converted(n, v, b);
    case OP_PYTHON:
        return encode_python(n, v, b);
    }
    PyErr_SetString(PyExc_SystemError, "corrupt encoder program");
    return -1;
}

/* ---- decoding ------------------------------------------------------------------------------ */

typedef struct {
    const unsigned char *data;
    Py_ssize_t len;
    Py_ssize_t pos;
    PyObject *obj; /* the buffer's object, for PYTHON readers */
} Reader;

static int truncated(void) {
    PyErr_SetString(avro_truncated_error, "truncated payload: the data ends inside a value");
    return -1;
}

static int read_long(Reader *r, int64_t *out) {
    uint64_t z = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->pos >= r->len) return truncated();
        unsigned char c = r->data[r->pos++];
        if (shift == 63 && c > 1) break; /* more than 64 bits */
        z |= (uint64_t)(c & 0x7F) << shift;
        if (c < 0x80) {
            *out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
            return 0;
        }
    }
    PyErr_SetString(avro_decode_error, "a varint is longer than 64 bits");
    return -1;
}


/* A length-prefixed run of bytes: its start and length. */
static int read_sized(Reader *r, const char **start, Py_ssize_t *len, const char *what) {
    int64_t n;
    if (read_long(r, &n) < 0) return -1;
    if (n < 0) {
        PyErr_Format(avro_decode_error, "a %s has a negative length", what);
        return -1;
    }
    if (n > r->len - r->pos) {
        PyErr_Format(avro_truncated_error, "truncated payload: a %s runs past the end", what);
        return -1;
    }
    *start = (const char *)r->data + r->pos;
    *len = (Py_ssize_t)n;
    r->pos += (Py_ssize_t)n;
    return 0;
}

static PyObject *decode_node(const Node *n, Reader *r);

static PyObject *decode_string(Reader *r) {
    const char *s;
    Py_ssize_t len;
    if (read_sized(r, &s, &len, "string") < 0) return NULL;
    return PyUnicode_DecodeUTF8(s, len, NULL);
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static PyObject *decode_uuid(Reader *r) {
    const char *s;
    Py_ssize_t len;
    if (read_sized(r, &s, &len, "string") < 0) return NULL;
    char digits[33];
    int k = 0, canonical = len == 36;
    for (Py_ssize_t i = 0; canonical && i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            canonical = s[i] == '-';
        } else if (hex_value(s[i]) < 0) {
            canonical = 0;
        } else {
            digits[k++] = s[i];
        }
    }
    if (!canonical) { /* any other form: uuid.UUID decides (and raises ValueError if malformed) */
        PyObject *text = PyUnicode_DecodeUTF8(s, len, NULL);
        if (text == NULL) return NULL;
        PyObject *u = PyObject_CallOneArg(uuid_type, text);
        Py_DECREF(text);
        return u;
    }
    digits[32] = '\0';
    PyObject *value = PyLong_FromString(digits, NULL, 16);
    if (value == NULL) return NULL;
    PyTypeObject *t = (PyTypeObject *)uuid_type;
    PyObject *u = t->tp_new(t, empty_tuple, NULL);
    if (u == NULL || PyObject_GenericSetAttr(u, str_int, value) < 0 ||
        PyObject_GenericSetAttr(u, str_is_safe, safe_uuid_unknown) < 0) {
        Py_XDECREF(u);
        Py_DECREF(value);
        return NULL;
    }
    Py_DECREF(value);
    return u;
}

/* The proleptic Gregorian date of a day count from 1970-01-01. */
static void civil_from_days(int64_t days, int *year, int *month, int *day) {
    static const int before[2][13] = {{0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365},
                                      {0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366}};
    int64_t n = days + 719162; /* days since 0001-01-01 */
    int64_t n400 = n / 146097, r = n % 146097;
    int64_t n100 = r / 36524;
    r %= 36524;
    int64_t n4 = r / 1461;
    r %= 1461;
    int64_t n1 = r / 365;
    r %= 365;
    int64_t y = n400 * 400 + n100 * 100 + n4 * 4 + n1 + 1;
    if (n1 == 4 || n100 == 4) { /* the last day of a leap year */
        *year = (int)(y - 1);
        *month = 12;
        *day = 31;
        return;
    }
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int m = 1;
    while (before[leap][m] <= r) m++;
    *year = (int)y;
    *month = m;
    *day = (int)(r - before[leap][m - 1] + 1);
}

static PyObject *decode_timestamp(const Node *n, Reader *r) {
    int64_t x;
    if (read_long(r, &x) < 0) return NULL;
    /* Years 1 to 9999 only (datetime's range); anything else gets the Python conversion's error. */
    const int64_t lo = -62135596800LL * 1000000, hi = 253402300800LL * 1000000;
    int64_t micros = n->size == 1 ? x : (x > lo / 1000 && x < hi / 1000 ? x * 1000 : lo - 1);
    if (micros < lo || micros >= hi) {
        PyObject *number = PyLong_FromLongLong(x);
        if (number == NULL) return NULL;
        PyObject *v = PyObject_CallOneArg(n->from_wire, number);
        Py_DECREF(number);
        return v;
    }
    int64_t secs = floor_div(micros, 1000000), us = micros - secs * 1000000;
    int64_t days = floor_div(secs, 86400), sod = secs - days * 86400;
    int year, month, day;
    civil_from_days(days, &year, &month, &day);
    return PyDateTimeAPI->DateTime_FromDateAndTime(year, month, day, (int)(sod / 3600), (int)(sod / 60 % 60),
                                                   (int)(sod % 60), (int)us, PyDateTime_TimeZone_UTC,
                                                   PyDateTimeAPI->DateTimeType);
}

/* The one place the compiled codec writes pydantic's private attributes, as runtime.avro.construct does
 * for the Python codec: the model of ``values`` known valid, without validating them again. Pinned to the
 * supported pydantic range by tests/runtime/test_construct.py. */
static PyObject *construct_model(PyObject *cls, PyObject *values, PyObject *field_names) {
    PyTypeObject *t = (PyTypeObject *)cls;
    PyObject *model = t->tp_new(t, empty_tuple, NULL);
    PyObject *fields_set = PySet_New(field_names);
    if (model == NULL || fields_set == NULL || PyObject_GenericSetAttr(model, str_dict, values) < 0 ||
        PyObject_GenericSetAttr(model, str_fields_set, fields_set) < 0 ||
        PyObject_GenericSetAttr(model, str_extra, Py_None) < 0 ||
        PyObject_GenericSetAttr(model, str_private, Py_None) < 0) {
        Py_CLEAR(model);
    }
    Py_XDECREF(fields_set);
    return model;
}

static PyObject *decode_record(const Node *n, Reader *r) {
    if (Py_EnterRecursiveCall(" while decoding an Avro record")) return NULL;
    PyObject *values = PyDict_New(), *model = NULL;
    if (values == NULL) goto done;
    for (Py_ssize_t i = 0; i < n->size; i++) {
        PyObject *v = decode_node(&n->children[i], r);
        if (v == NULL || PyDict_SetItem(values, n->keys[i], v) < 0) {
            Py_XDECREF(v);
            goto done;
        }
        Py_DECREF(v);
    }
    model = construct_model(n->cls, values, n->fields_set);
done:
    Py_XDECREF(values);
    Py_LeaveRecursiveCall();
    return model;
}

static PyObject *decode_blocks(const Node *n, Reader *r, int is_map) {
    PyObject *out = is_map ? PyDict_New() : PyList_New(0);
    if (out == NULL) return NULL;
    for (;;) {
        int64_t count, size;
        if (read_long(r, &count) < 0) goto fail;
        if (count == 0) return out;
        if (count < 0) { /* a negative count is followed by the block's size in bytes */
            if (count == INT64_MIN) {
                PyErr_SetString(avro_decode_error, "a block count is out of range");
                goto fail;
            }
            count = -count;
            if (read_long(r, &size) < 0) goto fail;
        }
        for (int64_t i = 0; i < count; i++) {
            PyObject *key = NULL;
            if (is_map && (key = decode_string(r)) == NULL) goto fail;
            PyObject *item = decode_node(n->children, r);
            int rc = item == NULL ? -1 : is_map ? PyDict_SetItem(out, key, item) : PyList_Append(out, item);
            Py_XDECREF(key);
            Py_XDECREF(item);
            if (rc < 0) goto fail;
        }
    }
fail:
    Py_DECREF(out);
    return NULL;
}

static PyObject *decode_python(const Node *n, Reader *r) {
    PyObject *pos = PyLong_FromSsize_t(r->pos);
    if (pos == NULL) return NULL;
    PyObject *result = PyObject_CallFunctionObjArgs(n->from_wire, r->obj, pos, NULL);
    Py_DECREF(pos);
    if (result == NULL) return NULL;
    if (!PyTuple_Check(result) || PyTuple_GET_SIZE(result) != 2 || !PyLong_Check(PyTuple_GET_ITEM(result, 1))) {
        Py_DECREF(result);
        PyErr_SetString(PyExc_TypeError, "a PYTHON reader returns (value, position)");
        return NULL;
    }
    Py_ssize_t end = PyLong_AsSsize_t(PyTuple_GET_ITEM(result, 1));
    PyObject *value = Py_NewRef(PyTuple_GET_ITEM(result, 0));
    Py_DECREF(result);
    if (end < r->pos || end > r->len) { /* a Python reader's slice may run past the end */
        Py_DECREF(value);
        if (!PyErr_Occurred()) truncated();
        return NULL;
    }
    r->pos = end;
    return value;
}

static PyObject *decode_node(const Node *n, Reader *r) {
    switch (n->op) {
    case OP_NULL:
        Py_RETURN_NONE;
    case OP_BOOLEAN:
        if (r->pos >= r->len) return truncated(), NULL;
        return PyBool_FromLong(r->data[r->pos++] != 0);
    case OP_INT: case OP_LONG: {
        int64_t x;
        return read_long(r, &x) < 0 ? NULL : PyLong_FromLongLong(x);
    }
    case OP_FLOAT: case OP_DOUBLE: {
        Py_ssize_t size = n->op == OP_FLOAT ? 4 : 8;
        if (r->len - r->pos < size) return truncated(), NULL;
        const char *p = (const char *)r->data + r->pos;
        double d = size == 4 ? PyFloat_Unpack4(p, 1) : PyFloat_Unpack8(p, 1);
        if (d == -1.0 && PyErr_Occurred()) return NULL;
        r->pos += size;
        return PyFloat_FromDouble(d);
    }
    case OP_BYTES: {
        const char *s;
        Py_ssize_t len;
        return read_sized(r, &s, &len, "bytes") < 0 ? NULL : PyBytes_FromStringAndSize(s, len);
    }
    case OP_FIXED: {
        if (r->len - r->pos < n->size) return truncated(), NULL;
        PyObject *v = PyBytes_FromStringAndSize((const char *)r->data + r->pos, n->size);
        r->pos += n->size;
        return v;
    }
    case OP_STRING:
        return decode_string(r);
    case OP_ENUM: {
        int64_t i;
        if (read_long(r, &i) < 0) return NULL;
        if (i < 0 || i >= PyTuple_GET_SIZE(n->from_wire))
            return PyErr_Format(avro_decode_error, "enum index %lld out of range for %U", (long long)i, n->cls);
        return Py_NewRef(PyTuple_GET_ITEM(n->from_wire, (Py_ssize_t)i));
    }
    case OP_ARRAY:
        return decode_blocks(n, r, 0);
    case OP_MAP:
        return decode_blocks(n, r, 1);
    case OP_OPTIONAL: {
        int64_t i;
        if (read_long(r, &i) < 0) return NULL;
        if (i == n->null_byte >> 1) Py_RETURN_NONE;
        if (i == n->value_byte >> 1) return decode_node(n->children, r);
        return PyErr_Format(avro_decode_error, "union index %lld out of range", (long long)i);
    }
    case OP_RECORD:
        return decode_record(n, r);
    case OP_UUID:
        return decode_uuid(r);
    case OP_TIMESTAMP:
        return decode_timestamp(n, r);
    case OP_CONVERT: {
        PyObject *raw = decode_node(n->children, r);
        if (raw == NULL) return NULL;
        PyObject *v = PyObject_CallOneArg(n->from_wire, raw);
        Py_DECREF(raw);
        return v;
    }
    case OP_PYTHON:
        return decode_python(n, r);
    }
    PyErr_SetString(PyExc_SystemError, "corrupt decoder program");
    return NULL;
}

/* ---- the Decoder type ---------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *program;
    Node root;
} Decoder;

static int Decoder_init(Decoder *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"program", NULL};
    PyObject *program;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Decoder", kwlist, &program)) return -1;
    if (self->program != NULL) { /* a decode may be walking the nodes: never replace them */
        PyErr_SetString(PyExc_RuntimeError, "a Decoder is initialized once");
        return -1;
    }
    if (node_compile(&self->root, program, 0) < 0) {
        node_clear(&self->root);
        return -1;
    }
    self->program = Py_NewRef(program); /* last: read() needs it */
    return 0;
}

static PyObject *Decoder_read(Decoder *self, PyObject *const *args, Py_ssize_t nargs) {
    if (self->program == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Decoder was not initialized");
        return NULL;
    }
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "read(buffer, position=0)");
        return NULL;
    }
    Py_ssize_t start = 0;
    if (nargs == 2 && (start = PyLong_AsSsize_t(args[1])) == -1 && PyErr_Occurred()) return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    if (start < 0 || start > view.len) {
        PyBuffer_Release(&view);
        return truncated(), NULL;
    }
    Reader r = {(const unsigned char *)view.buf, view.len, start, args[0]};
    PyObject *value = decode_node(&self->root, &r), *result = NULL;
    PyBuffer_Release(&view);
    if (value != NULL) {
        result = Py_BuildValue("(Nn)", value, r.pos);
    }
    return result;
}

static int Decoder_traverse(Decoder *self, visitproc visit, void *arg) {
    Py_VISIT(self->program);
    return 0;
}

static int Decoder_clear(Decoder *self) {
    node_clear(&self->root);
    Py_CLEAR(self->program);
    return 0;
}

static void Decoder_dealloc(Decoder *self) {
    PyObject_GC_UnTrack(self);
    Decoder_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Decoder_methods[] = {
    {"read", (PyCFunction)(void (*)(void))Decoder_read, METH_FASTCALL,
     "read(buffer, position=0, /) -> (value, end): decode one value, as a generated reader does."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "schemabus.runtime._speedups.Decoder",
    .tp_basicsize = sizeof(Decoder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Decoder(program) decodes Avro data into models with a compiled program.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Decoder_init,
    .tp_dealloc = (destructor)Decoder_dealloc,
    .tp_traverse = (traverseproc)Decoder_traverse,
    .tp_clear = (inquiry)Decoder_clear,
    .tp_methods = Decoder_methods,
};

/* ---- the Encoder type ---------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *program; /* keeps every borrowed reference of the nodes alive */
    PyObject *header;  /* bytes */
    Node root;
} Encoder;

static int Encoder_init(Encoder *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"program", "header", NULL};
    PyObject *program, *header = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|S:Encoder", kwlist, &program, &header)) return -1;
    if (self->program != NULL) { /* an encode may be walking the nodes: never replace them */
        PyErr_SetString(PyExc_RuntimeError, "an Encoder is initialized once");
        return -1;
    }
    if (node_compile(&self->root, program, 0) < 0) {
        node_clear(&self->root);
        return -1;
    }
    self->header = header != NULL ? Py_NewRef(header) : PyBytes_FromStringAndSize(NULL, 0);
    if (self->header == NULL) {
        node_clear(&self->root);
        return -1;
    }
    self->program = Py_NewRef(program); /* last: encode() needs both */
    return 0;
}

static PyObject *Encoder_encode(Encoder *self, PyObject *value) {
    if (self->program == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Encoder was not initialized");
        return NULL;
    }
    Buf b;
    buf_init(&b);
    PyObject *result = NULL;
    if (buf_put(&b, PyBytes_AS_STRING(self->header), PyBytes_GET_SIZE(self->header)) == 0 &&
        encode_node(&self->root, value, &b) == 0)
        result = PyBytes_FromStringAndSize(b.data, b.len);
    buf_free(&b);
    return result;
}

static int Encoder_traverse(Encoder *self, visitproc visit, void *arg) {
    Py_VISIT(self->program);
    return 0;
}

static int Encoder_clear(Encoder *self) {
    node_clear(&self->root);
    Py_CLEAR(self->program);
    Py_CLEAR(self->header);
    return 0;
}

static void Encoder_dealloc(Encoder *self) {
    PyObject_GC_UnTrack(self);
    Encoder_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Encoder_get_header(Encoder *self, void *closure) {
    return Py_NewRef(self->header != NULL ? self->header : Py_None);
}

static PyMethodDef Encoder_methods[] = {
    {"encode", (PyCFunction)Encoder_encode, METH_O,
     "encode(value) -> bytes: the header, then the Avro encoding of value."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Encoder_getset[] = {
    {"header", (getter)Encoder_get_header, NULL, "The bytes written before every payload.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject EncoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "schemabus.runtime._speedups.Encoder",
    .tp_basicsize = sizeof(Encoder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Encoder(program, header=b'') encodes models with a compiled encoder program.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Encoder_init,
    .tp_dealloc = (destructor)Encoder_dealloc,
    .tp_traverse = (traverseproc)Encoder_traverse,
    .tp_clear = (inquiry)Encoder_clear,
    .tp_methods = Encoder_methods,
    .tp_getset = Encoder_getset,
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "schemabus.runtime._speedups",
    .m_doc = "Compiled Avro encoding for generated models (optional; see runtime/avro.py).",
    .m_size = -1,
};

static PyObject *intern(const char *s) {
    return PyUnicode_InternFromString(s);
}

PyMODINIT_FUNC PyInit__speedups(void) {
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) return NULL;
    PyObject *uuid = PyImport_ImportModule("uuid");
    if (uuid == NULL) return NULL;
    uuid_type = PyObject_GetAttrString(uuid, "UUID");
    PyObject *safe = PyObject_GetAttrString(uuid, "SafeUUID");
    Py_DECREF(uuid);
    if (uuid_type == NULL || safe == NULL) return NULL;
    safe_uuid_unknown = PyObject_GetAttrString(safe, "unknown");
    Py_DECREF(safe);
    PyObject *avro = PyImport_ImportModule("schemabus.runtime.avro");
    if (avro == NULL || safe_uuid_unknown == NULL) return NULL;
    avro_decode_error = PyObject_GetAttrString(avro, "AvroDecodeError");
    avro_truncated_error = PyObject_GetAttrString(avro, "AvroTruncatedError");
    Py_DECREF(avro);
    empty_tuple = PyTuple_New(0);
    str_int = intern("int");
    str_is_safe = intern("is_safe");
    str_dict = intern("__dict__");
    str_fields_set = intern("__pydantic_fields_set__");
    str_extra = intern("__pydantic_extra__");
    str_private = intern("__pydantic_private__");
    str_utcoffset = intern("utcoffset");
    sixty_four = PyLong_FromLong(64);
    if (avro_decode_error == NULL || avro_truncated_error == NULL || empty_tuple == NULL || str_int == NULL || str_is_safe == NULL ||
        str_dict == NULL || str_fields_set == NULL || str_extra == NULL || str_private == NULL ||
        str_utcoffset == NULL || sixty_four == NULL)
        return NULL;
    if (PyType_Ready(&EncoderType) < 0 || PyType_Ready(&DecoderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&speedups_module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Encoder", (PyObject *)&EncoderType) < 0 ||
        PyModule_AddObjectRef(m, "Decoder", (PyObject *)&DecoderType) < 0 || add_delivery_counter(m) < 0 || add_reports(m) < 0 ||
        add_bins(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
