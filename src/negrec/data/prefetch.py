"""A hint for compiled (numba) loops: ask the memory for an array element some steps before the loop reads it.

Why: the loops over large tables (the fused CF step, membership lookups at 10^8 interactions) wait on DRAM for
almost every row they visit; the rows a loop will visit next are known, and a request sent ahead overlaps those
waits. A hint only: it changes no result, and an address past the array's end cannot fault.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def prefetch(typingctx, array, flat_index):
    """LLVM's prefetch (read, keep in every cache level) of element `flat_index` of a C-contiguous array's buffer."""

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        hint = ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32])
        function = cgutils.get_or_insert_function(builder.module, hint, "llvm.prefetch.p0")
        address = builder.bitcast(builder.gep(data, [args[1]]), byte_pointer)
        builder.call(function, [address, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, flat_index), codegen
