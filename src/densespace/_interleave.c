/* Compiled colour interleave for densespace's CIFAR-10 reader (densespace._cifar10).
 *
 * CIFAR-10 stores each image channel-major: 1024 red bytes, 1024 green, 1024
 * blue. densespace hands out channels-last images, so every pixel's three
 * bytes are interleaved. numpy does that as three strided copies of single
 * bytes; the compiler turns the loop below into byte shuffles (an SSSE3 build
 * of it on x86 with GCC or clang). bench/load_cifar10.py measures the gain.
 * The extension is optional: without a C compiler at install time densespace
 * uses the numpy copies.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define PLANE 1024 /* pixels per colour plane of a 32x32 image */

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define HAVE_SSSE3_CLONE 1
#else
#define ALWAYS_INLINE inline
#endif

static ALWAYS_INLINE void
interleave_rows(const uint8_t *pixels, Py_ssize_t row_stride, uint8_t *target, Py_ssize_t rows)
{
    for (Py_ssize_t row = 0; row < rows; row++) {
        const uint8_t *red = pixels + row * row_stride;
        const uint8_t *green = red + PLANE;
        const uint8_t *blue = green + PLANE;
        uint8_t *out = target + row * 3 * PLANE;
        for (Py_ssize_t p = 0; p < PLANE; p++) {
            out[3 * p] = red[p];
            out[3 * p + 1] = green[p];
            out[3 * p + 2] = blue[p];
        }
    }
}

#ifdef HAVE_SSSE3_CLONE
/* The same loop, compiled for SSSE3 (every x86-64 CPU since 2006 but a few); chosen at run time. */
__attribute__((target("ssse3"))) static void
interleave_ssse3(const uint8_t *pixels, Py_ssize_t row_stride, uint8_t *target, Py_ssize_t rows)
{
    interleave_rows(pixels, row_stride, target, rows);
}
#endif

static PyObject *
to_channels_last(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *pixels_obj, *target_obj;
    if (!PyArg_ParseTuple(args, "OO:to_channels_last", &pixels_obj, &target_obj)) {
        return NULL;
    }
    Py_buffer pixels, target;
    if (PyObject_GetBuffer(pixels_obj, &pixels, PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(target_obj, &target, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&pixels);
        return NULL;
    }
    Py_ssize_t rows = pixels.ndim == 2 ? pixels.shape[0] : 0;
    if (pixels.ndim != 2) {
        PyErr_Format(PyExc_ValueError, "to_channels_last: pixels must have 2 dimensions, got %d",
                     pixels.ndim);
    }
    else if (strcmp(pixels.format, "B") != 0) {
        PyErr_Format(PyExc_ValueError,
                     "to_channels_last: pixels must be uint8 (format 'B'), got format '%s'",
                     pixels.format);
    }
    else if (pixels.shape[1] != 3 * PLANE) {
        PyErr_Format(PyExc_ValueError,
                     "to_channels_last: pixels rows must hold %d bytes, got %zd", 3 * PLANE,
                     pixels.shape[1]);
    }
    else if (pixels.strides[1] != 1) {
        PyErr_Format(PyExc_ValueError,
                     "to_channels_last: pixels rows must be contiguous (byte stride 1), "
                     "got stride %zd",
                     pixels.strides[1]);
    }
    else if (target.len != rows * 3 * PLANE) {
        PyErr_Format(PyExc_ValueError,
                     "to_channels_last: target must hold %zd bytes (%zd images), got %zd",
                     rows * 3 * PLANE, rows, target.len);
    }
    else {
        Py_BEGIN_ALLOW_THREADS
#ifdef HAVE_SSSE3_CLONE
        if (__builtin_cpu_supports("ssse3")) {
            interleave_ssse3(pixels.buf, pixels.strides[0], target.buf, rows);
        }
        else
#endif
        {
            interleave_rows(pixels.buf, pixels.strides[0], target.buf, rows);
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&pixels);
    PyBuffer_Release(&target);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"to_channels_last", to_channels_last, METH_VARARGS,
     "to_channels_last(pixels, target)\n--\n\n"
     "Copies channel-major uint8 rows ``pixels (n, 3072)`` into the C-contiguous ``target (n, "
     "1024, 3)``."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "densespace._interleave",
    .m_doc = "Compiled colour interleave for the CIFAR-10 reader.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__interleave(void)
{
    return PyModule_Create(&module);
}
