#include "shim.h"
#include "claims_b64url.h"
#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>
char *claims_header_name_norm(apr_pool_t *p, const char *name){char *o=apr_pstrdup(p,name);for(char*c=o;*c;c++)*c=apr_isalnum(*c)?(char)apr_toupper(*c):'_';return o;}
int claims_header_norm_match(const char *name, const char *norm, int prefix){for(;*norm;name++,norm++){char c=apr_isalnum(*name)?(char)apr_toupper(*name):'_';if(*name=='\0'||c!=*norm)return 0;}return prefix||*name=='\0';}
const char *claims_header_value(apr_pool_t *p, claims_header_encoding_t enc, const char *v){static const char hex[]="0123456789ABCDEF";apr_size_t len=strlen(v);char*out,*o;if(enc==CLAIMS_HDR_BASE64URL)return claims_b64url_encode(p,(const unsigned char*)v,len);if(enc==CLAIMS_HDR_RAW){for(const char*c=v;*c;c++)if((unsigned char)*c<0x20||*c==0x7f)return NULL;return v;}o=out=apr_palloc(p,len*3+1);for(const char*c=v;*c;c++){unsigned char u=(unsigned char)*c;if(u<=0x20||u>=0x7f||u=='%'){*o++='%';*o++=hex[u>>4];*o++=hex[u&15];}else*o++=(char)u;}*o='\0';return out;}
const char *claims_expr_text(apr_pool_t *p, const char *s){static const char hex[]="0123456789ABCDEF";apr_size_t extra=0;char*out,*o;for(const char*c=s;*c;c++){unsigned char u=(unsigned char)*c;extra+=(u<0x20||u==0x7f||u=='%')?2:0;}if(!extra)return s;o=out=apr_palloc(p,strlen(s)+extra+1);for(const char*c=s;*c;c++){unsigned char u=(unsigned char)*c;if(u<0x20||u==0x7f||u=='%'){*o++='%';*o++=hex[u>>4];*o++=hex[u&15];}else*o++=(char)u;}*o='\0';return out;}
char *claims_header_prefixed_name(apr_pool_t *p, const char *prefix, const char *claim){char*n=apr_pstrcat(p,prefix,claim,NULL);for(char*c=n+strlen(prefix);*c;c++)if(!apr_isalnum(*c)&&*c!='-')*c='-';return n;}
claims_status_t claims_verify_token(const claims_verifier_t *v, apr_pool_t *p, const char *token, apr_size_t len, double now, claims_verified_t *out, const claims_cached_t **cached){return claims_verify_cached(v->cache,p,token,len,v->max_len,v->trusted,v->ntrusted,v->get_keys,v->baton,now,out,cached);}
