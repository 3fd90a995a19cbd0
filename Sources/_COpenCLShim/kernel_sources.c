// The OpenCL C sources of Kernels/*.cl, embedded at build time with C23 #embed (SwiftPM rebuilds
// this file when a kernel changes). Add a kernel file: one #embed array and one table row. The
// program is built from the files in this order: lk_codes.h (the codes shared with Swift and the
// microkernels, Sources/_CMicrokernels/include), then common.cl, then the kernels.
#include "_COpenCLShim.h"

static const char codes_h[] = {
#embed "../_CMicrokernels/include/lk_codes.h"
    , 0};
static const char common_cl[] = {
#embed "../../Kernels/common.cl"
    , 0};
static const char softmax_cl[] = {
#embed "../../Kernels/softmax.cl"
    , 0};
static const char softmax_loss_cl[] = {
#embed "../../Kernels/softmax_loss.cl"
    , 0};
static const char elementwise_loss_cl[] = {
#embed "../../Kernels/elementwise_loss.cl"
    , 0};
static const char probability_cross_entropy_cl[] = {
#embed "../../Kernels/probability_cross_entropy.cl"
    , 0};
static const char nll_loss_cl[] = {
#embed "../../Kernels/nll_loss.cl"
    , 0};
static const char margin_head_cl[] = {
#embed "../../Kernels/margin_head.cl"
    , 0};
static const char metric_loss_cl[] = {
#embed "../../Kernels/metric_loss.cl"
    , 0};
static const char triplet_mining_cl[] = {
#embed "../../Kernels/triplet_mining.cl"
    , 0};
static const char reduce_cl[] = {
#embed "../../Kernels/reduce.cl"
    , 0};
static const char training_cl[] = {
#embed "../../Kernels/training.cl"
    , 0};
static const char gemm_cl[] = {
#embed "../../Kernels/gemm.cl"
    , 0};

static const struct { const char *name, *source; } files[] = {
    {"lk_codes.h", codes_h},
    {"common.cl", common_cl},
    {"softmax.cl", softmax_cl},
    {"softmax_loss.cl", softmax_loss_cl},
    {"elementwise_loss.cl", elementwise_loss_cl},
    {"probability_cross_entropy.cl", probability_cross_entropy_cl},
    {"nll_loss.cl", nll_loss_cl},
    {"margin_head.cl", margin_head_cl},
    {"metric_loss.cl", metric_loss_cl},
    {"triplet_mining.cl", triplet_mining_cl},
    {"reduce.cl", reduce_cl},
    {"training.cl", training_cl},
    {"gemm.cl", gemm_cl},
};

size_t lk_kernel_file_count(void) { return sizeof files / sizeof files[0]; }
const char *lk_kernel_file_name(size_t index) { return index < lk_kernel_file_count() ? files[index].name : NULL; }
const char *lk_kernel_file_source(size_t index) { return index < lk_kernel_file_count() ? files[index].source : NULL; }
