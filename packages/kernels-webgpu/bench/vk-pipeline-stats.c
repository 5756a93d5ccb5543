/*
 * vk-pipeline-stats: what the Vulkan driver compiled a SPIR-V compute shader into.
 *
 * Builds each SPIR-V file given on the command line as a compute pipeline (entry point
 * "dawn_entry_point", the name Tint gives it) with VK_KHR_pipeline_executable_properties' capture
 * flags and prints the driver's statistics (registers, shared and local memory, instruction counts:
 * whatever the driver reports) and, with --ir, its internal representations (text ones printed,
 * binary ones written to $VKPS_IR_DIR when set). A benchmark aid for
 * WGSL kernels: Dawn's `dump_shaders` toggle prints the SPIR-V Tint made, `spirv-as` assembles it
 * (bench/pipeline-stats.mjs does all of it). Not part of the package.
 *
 * Build: cc -O2 -o vk-pipeline-stats vk-pipeline-stats.c -I<vulkan headers> -ldl
 * The Vulkan loader is opened at run time (libvulkan.so.1).
 *
 * The descriptor set layout is read from the SPIR-V: every variable decorated with DescriptorSet 0 /
 * Binding n becomes a storage buffer, or a uniform buffer where its storage class is Uniform. The
 * device is created with every feature the driver offers among the ones Tint's output may need
 * (Vulkan 1.1/1.2/1.3 features, maximal reconvergence, robustBufferAccess as Dawn enables it).
 */
#define VK_NO_PROTOTYPES
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vulkan/vulkan.h>

#ifndef VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_MAXIMAL_RECONVERGENCE_FEATURES_KHR
#define VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_MAXIMAL_RECONVERGENCE_FEATURES_KHR 1000434000
typedef struct {
  VkStructureType sType;
  void *pNext;
  VkBool32 shaderMaximalReconvergence;
} VkPhysicalDeviceShaderMaximalReconvergenceFeaturesKHR;
#endif

static PFN_vkGetInstanceProcAddr gipa;
static PFN_vkGetPipelineExecutablePropertiesKHR vkGetPipelineExecutablePropertiesKHR;
static PFN_vkGetPipelineExecutableStatisticsKHR vkGetPipelineExecutableStatisticsKHR;
static PFN_vkGetPipelineExecutableInternalRepresentationsKHR vkGetPipelineExecutableInternalRepresentationsKHR;
static void print_executables(VkDevice dev, VkPipeline pipe, int ir, const char *path);
#define LOAD_I(inst, name) PFN_##name name = (PFN_##name)gipa(inst, #name)

static void die(const char *what, VkResult r) {
  fprintf(stderr, "vk-pipeline-stats: %s failed (VkResult %d)\n", what, (int)r);
  exit(1);
}

static uint32_t *read_file(const char *path, size_t *words) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "vk-pipeline-stats: cannot open %s\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (n <= 20 || n % 4 != 0) {
    fprintf(stderr, "vk-pipeline-stats: %s is not SPIR-V (%ld bytes)\n", path, n);
    exit(1);
  }
  uint32_t *buf = malloc((size_t)n);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "vk-pipeline-stats: short read of %s\n", path);
    exit(1);
  }
  fclose(f);
  if (buf[0] != 0x07230203u) {
    fprintf(stderr, "vk-pipeline-stats: %s: bad SPIR-V magic 0x%08x\n", path, buf[0]);
    exit(1);
  }
  *words = (size_t)n / 4;
  return buf;
}

/* bindings of set 0: type per binding (0 none, 1 storage, 2 uniform) */
static void scan_bindings(const uint32_t *w, size_t n, int *kind, uint32_t maxb) {
  enum { MAXID = 1 << 20 };
  int32_t *binding = calloc(MAXID, sizeof(int32_t));
  for (size_t i = 0; i < MAXID; i++) binding[i] = -1;
  for (size_t i = 5; i < n;) {
    uint32_t op = w[i] & 0xffff, len = w[i] >> 16;
    if (len == 0) break;
    if (op == 71 && len >= 4 && w[i + 2] == 33 && w[i + 1] < MAXID) binding[w[i + 1]] = (int32_t)w[i + 3];
    if (op == 59 && len >= 4 && w[i + 2] < MAXID && binding[w[i + 2]] >= 0) { /* OpVariable */
      uint32_t b = (uint32_t)binding[w[i + 2]];
      if (b < maxb) kind[b] = w[i + 3] == 2 ? 2 : 1; /* StorageClass Uniform = 2 */
    }
    i += len;
  }
  free(binding);
}

int main(int argc, char **argv) {
  int ir = 0;
  int first = 1;
  if (argc > 1 && strcmp(argv[1], "--ir") == 0) {
    ir = 1;
    first = 2;
  }
  if (argc <= first) {
    fprintf(stderr, "usage: vk-pipeline-stats [--ir] shader.spv ...\n");
    return 2;
  }
  void *lib = dlopen("libvulkan.so.1", RTLD_NOW);
  if (!lib) {
    fprintf(stderr, "vk-pipeline-stats: no Vulkan loader (libvulkan.so.1): %s\n", dlerror());
    return 1;
  }
  gipa = (PFN_vkGetInstanceProcAddr)dlsym(lib, "vkGetInstanceProcAddr");
  LOAD_I(NULL, vkCreateInstance);
  VkApplicationInfo app = {VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.apiVersion = VK_API_VERSION_1_3;
  app.pApplicationName = "vk-pipeline-stats";
  VkInstanceCreateInfo ici = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ici.pApplicationInfo = &app;
  VkInstance inst;
  VkResult r = vkCreateInstance(&ici, NULL, &inst);
  if (r) die("vkCreateInstance", r);
  LOAD_I(inst, vkEnumeratePhysicalDevices);
  LOAD_I(inst, vkGetPhysicalDeviceProperties);
  LOAD_I(inst, vkGetPhysicalDeviceFeatures2);
  LOAD_I(inst, vkGetPhysicalDeviceQueueFamilyProperties);
  LOAD_I(inst, vkEnumerateDeviceExtensionProperties);
  LOAD_I(inst, vkCreateDevice);
  LOAD_I(inst, vkGetDeviceProcAddr);
  uint32_t nd = 8;
  VkPhysicalDevice pds[8];
  r = vkEnumeratePhysicalDevices(inst, &nd, pds);
  if (r < 0 || nd == 0) die("vkEnumeratePhysicalDevices (no device)", r);
  VkPhysicalDevice pd = pds[0];
  for (uint32_t i = 0; i < nd; i++) {
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(pds[i], &p);
    if (p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU) {
      pd = pds[i];
      break;
    }
  }
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(pd, &props);
  printf("device: %s (driver 0x%x)\n", props.deviceName, props.driverVersion);

  /* extensions: the ones Tint's SPIR-V may use, where offered */
  const char *want[] = {"VK_KHR_pipeline_executable_properties", "VK_KHR_shader_maximal_reconvergence",
                        "VK_KHR_shader_subgroup_uniform_control_flow", "VK_KHR_cooperative_matrix",
                        "VK_KHR_shader_integer_dot_product"};
  uint32_t ne = 0;
  vkEnumerateDeviceExtensionProperties(pd, NULL, &ne, NULL);
  VkExtensionProperties *exts = calloc(ne, sizeof *exts);
  vkEnumerateDeviceExtensionProperties(pd, NULL, &ne, exts);
  const char *use[8];
  uint32_t nu = 0;
  int haveStats = 0, haveReconv = 0;
  for (size_t k = 0; k < sizeof want / sizeof *want; k++)
    for (uint32_t i = 0; i < ne; i++)
      if (strcmp(exts[i].extensionName, want[k]) == 0) {
        use[nu++] = want[k];
        if (k == 0) haveStats = 1;
        if (k == 1) haveReconv = 1;
      }
  if (!haveStats)
    printf("%s has no VK_KHR_pipeline_executable_properties: pipelines are built, no statistics\n",
           props.deviceName);

  /* features: whatever the driver offers */
  VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR fexe = {
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR};
  VkPhysicalDeviceShaderMaximalReconvergenceFeaturesKHR frec = {
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_MAXIMAL_RECONVERGENCE_FEATURES_KHR};
  VkPhysicalDeviceVulkan13Features f13 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
  VkPhysicalDeviceVulkan12Features f12 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan11Features f11 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceFeatures2 f2 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  f2.pNext = &f11;
  f11.pNext = &f12;
  f12.pNext = &f13;
  void **tail = &f13.pNext;
  if (haveStats) {
    *tail = &fexe;
    tail = &fexe.pNext;
  }
  if (haveReconv) *tail = &frec;
  vkGetPhysicalDeviceFeatures2(pd, &f2);

  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, NULL);
  VkQueueFamilyProperties *qf = calloc(nq, sizeof *qf);
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qf);
  uint32_t qfi = 0;
  for (uint32_t i = 0; i < nq; i++)
    if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
      qfi = i;
      break;
    }
  float prio = 1.0f;
  VkDeviceQueueCreateInfo qci = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = qfi;
  qci.queueCount = 1;
  qci.pQueuePriorities = &prio;
  VkDeviceCreateInfo dci = {VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.pNext = &f2;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  dci.enabledExtensionCount = nu;
  dci.ppEnabledExtensionNames = use;
  VkDevice dev;
  r = vkCreateDevice(pd, &dci, NULL, &dev);
  if (r) die("vkCreateDevice", r);
#define LOAD_D(name) PFN_##name name = (PFN_##name)vkGetDeviceProcAddr(dev, #name)
  LOAD_D(vkCreateShaderModule);
  LOAD_D(vkCreateDescriptorSetLayout);
  LOAD_D(vkCreatePipelineLayout);
  LOAD_D(vkCreateComputePipelines);
  vkGetPipelineExecutablePropertiesKHR = (PFN_vkGetPipelineExecutablePropertiesKHR)vkGetDeviceProcAddr(dev, "vkGetPipelineExecutablePropertiesKHR");
  vkGetPipelineExecutableStatisticsKHR = (PFN_vkGetPipelineExecutableStatisticsKHR)vkGetDeviceProcAddr(dev, "vkGetPipelineExecutableStatisticsKHR");
  vkGetPipelineExecutableInternalRepresentationsKHR = (PFN_vkGetPipelineExecutableInternalRepresentationsKHR)vkGetDeviceProcAddr(dev, "vkGetPipelineExecutableInternalRepresentationsKHR");
  LOAD_D(vkDestroyPipeline);
  LOAD_D(vkDestroyPipelineLayout);
  LOAD_D(vkDestroyDescriptorSetLayout);
  LOAD_D(vkDestroyShaderModule);

  for (int a = first; a < argc; a++) {
    size_t nw;
    uint32_t *code = read_file(argv[a], &nw);
    enum { MAXB = 16 };
    int kind[MAXB] = {0};
    scan_bindings(code, nw, kind, MAXB);
    VkDescriptorSetLayoutBinding bs[MAXB];
    uint32_t nb = 0;
    for (uint32_t b = 0; b < MAXB; b++)
      if (kind[b]) {
        VkDescriptorSetLayoutBinding x = {0};
        x.binding = b;
        x.descriptorType = kind[b] == 2 ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        x.descriptorCount = 1;
        x.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
        bs[nb++] = x;
      }
    VkDescriptorSetLayoutCreateInfo dl = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dl.bindingCount = nb;
    dl.pBindings = bs;
    VkDescriptorSetLayout dsl;
    r = vkCreateDescriptorSetLayout(dev, &dl, NULL, &dsl);
    if (r) die("vkCreateDescriptorSetLayout", r);
    VkPipelineLayoutCreateInfo pl = {VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pl.setLayoutCount = 1;
    pl.pSetLayouts = &dsl;
    VkPipelineLayout layout;
    r = vkCreatePipelineLayout(dev, &pl, NULL, &layout);
    if (r) die("vkCreatePipelineLayout", r);
    VkShaderModuleCreateInfo sm = {VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    sm.codeSize = nw * 4;
    sm.pCode = code;
    VkShaderModule mod;
    r = vkCreateShaderModule(dev, &sm, NULL, &mod);
    if (r) die("vkCreateShaderModule", r);
    VkComputePipelineCreateInfo cp = {VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    cp.flags = !haveStats ? 0
                          : VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR |
                                (ir ? VK_PIPELINE_CREATE_CAPTURE_INTERNAL_REPRESENTATIONS_BIT_KHR : 0);
    cp.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    cp.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    cp.stage.module = mod;
    cp.stage.pName = "dawn_entry_point";
    cp.layout = layout;
    VkPipeline pipe;
    r = vkCreateComputePipelines(dev, VK_NULL_HANDLE, 1, &cp, NULL, &pipe);
    if (r) die("vkCreateComputePipelines", r);
    printf("== %s (%zu words, %u bindings): built\n", argv[a], nw, nb);
    if (haveStats) print_executables(dev, pipe, ir, argv[a]);
    vkDestroyPipeline(dev, pipe, NULL);
    vkDestroyShaderModule(dev, mod, NULL);
    vkDestroyPipelineLayout(dev, layout, NULL);
    vkDestroyDescriptorSetLayout(dev, dsl, NULL);
    free(code);
  }
  return 0;
}

/* the pipeline's executables: name, statistics and (with ir) internal representations */
static void print_executables(VkDevice dev, VkPipeline pipe, int ir, const char *path) {
  VkPipelineInfoKHR pi = {VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR};
  pi.pipeline = pipe;
  uint32_t nx = 0;
  vkGetPipelineExecutablePropertiesKHR(dev, &pi, &nx, NULL);
  VkPipelineExecutablePropertiesKHR *xp = calloc(nx, sizeof *xp);
  for (uint32_t i = 0; i < nx; i++) xp[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR;
  vkGetPipelineExecutablePropertiesKHR(dev, &pi, &nx, xp);
  for (uint32_t e = 0; e < nx; e++) {
    printf("executable %u: %s (%s), subgroup size %u\n", e, xp[e].name, xp[e].description,
           xp[e].subgroupSize);
    VkPipelineExecutableInfoKHR ei = {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR};
    ei.pipeline = pipe;
    ei.executableIndex = e;
    uint32_t ns = 0;
    vkGetPipelineExecutableStatisticsKHR(dev, &ei, &ns, NULL);
    VkPipelineExecutableStatisticKHR *st = calloc(ns, sizeof *st);
    for (uint32_t i = 0; i < ns; i++) st[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR;
    vkGetPipelineExecutableStatisticsKHR(dev, &ei, &ns, st);
    for (uint32_t i = 0; i < ns; i++) {
      printf("  %s: ", st[i].name);
      switch (st[i].format) {
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR:
          printf("%s", st[i].value.b32 ? "true" : "false");
          break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR:
          printf("%lld", (long long)st[i].value.i64);
          break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR:
          printf("%llu", (unsigned long long)st[i].value.u64);
          break;
        default:
          printf("%g", st[i].value.f64);
      }
      printf("  (%s)\n", st[i].description);
    }
    free(st);
    if (!ir) continue;
    uint32_t nr = 0;
    vkGetPipelineExecutableInternalRepresentationsKHR(dev, &ei, &nr, NULL);
    VkPipelineExecutableInternalRepresentationKHR *rep = calloc(nr, sizeof *rep);
    for (uint32_t i = 0; i < nr; i++) rep[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INTERNAL_REPRESENTATION_KHR;
    vkGetPipelineExecutableInternalRepresentationsKHR(dev, &ei, &nr, rep);
    for (uint32_t i = 0; i < nr; i++) {
      rep[i].pData = calloc(1, rep[i].dataSize + 1);
    }
    vkGetPipelineExecutableInternalRepresentationsKHR(dev, &ei, &nr, rep);
    for (uint32_t i = 0; i < nr; i++) {
      printf("  -- internal representation %u: %s (%s), %zu bytes, %s\n", i, rep[i].name, rep[i].description,
             rep[i].dataSize, rep[i].isText ? "text" : "binary");
      if (rep[i].isText) printf("%s\n", (const char *)rep[i].pData);
      const char *dir = getenv("VKPS_IR_DIR");
      if (!rep[i].isText && dir) {
        const char *base = strrchr(path, '/');
        char out[4096];
        snprintf(out, sizeof out, "%s/%s.%u.%u.bin", dir, base ? base + 1 : path, e, i);
        FILE *f = fopen(out, "wb");
        if (f) {
          fwrite(rep[i].pData, 1, rep[i].dataSize, f);
          fclose(f);
          printf("  (written to %s)\n", out);
        }
      }
      free(rep[i].pData);
    }
    free(rep);
  }
  free(xp);
}
