//! Interop with an independent implementation: Lemmy's `activitypub_federation` crate runs a
//! peer on loopback (its own WebFinger, actor, inbox, HTTP signatures and fetching), and pipit
//! federates with it in both directions: the peer follows pipit and receives its post; pipit
//! follows the peer and receives its post; replies and likes cross both ways.
mod common;
use common::*;

mod peer {
    use activitypub_federation::axum::inbox::{receive_activity, ActivityData};
    use activitypub_federation::axum::json::FederationJson;
    use activitypub_federation::config::{Data, FederationConfig, FederationMiddleware};
    use activitypub_federation::fetch::object_id::ObjectId;
    use activitypub_federation::fetch::webfinger::{build_webfinger_response, extract_webfinger_name, webfinger_resolve_actor, Webfinger};
    use activitypub_federation::http_signatures::generate_actor_keypair;
    use activitypub_federation::kinds::activity::{AcceptType, CreateType, FollowType, LikeType, MoveType};
    use activitypub_federation::kinds::actor::PersonType;
    use activitypub_federation::kinds::object::NoteType;
    use activitypub_federation::protocol::context::WithContext;
    use activitypub_federation::protocol::helpers::deserialize_one_or_many;
    use activitypub_federation::protocol::public_key::PublicKey;
    use activitypub_federation::protocol::verification::verify_domains_match;
    use activitypub_federation::traits::{Activity, Actor, Object};
    use axum::extract::{Path, Query};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use serde::{Deserialize, Serialize};
    use std::sync::{Arc, Mutex};
    use url::Url;

    /// The peer's errors, as the library's traits want them.
    #[derive(Debug)]
    pub struct Error(pub anyhow::Error);
    impl<T: Into<anyhow::Error>> From<T> for Error {
        fn from(t: T) -> Self {
            Error(t.into())
        }
    }
    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            std::fmt::Display::fmt(&self.0, f)
        }
    }
    impl IntoResponse for Error {
        fn into_response(self) -> Response {
            (axum::http::StatusCode::BAD_REQUEST, self.0.to_string()).into_response()
        }
    }

    #[derive(Clone, Debug)]
    pub struct User {
        pub id: ObjectId<User>,
        pub name: String,
        pub inbox: Url,
        public_key: String,
        private_key: Option<String>,
        /// Its `alsoKnownAs`: what a Move's target must list.
        pub also_known_as: Vec<Url>,
    }

    #[derive(Clone, Debug)]
    pub struct Post {
        pub id: ObjectId<Post>,
        pub author: ObjectId<User>,
        pub content: String,
        pub in_reply_to: Option<Url>,
    }

    /// Everything the peer knows, plus a log of the activity types it received.
    pub struct Db {
        pub me: User,
        pub users: Mutex<Vec<User>>,
        pub posts: Mutex<Vec<Post>>,
        pub followers: Mutex<Vec<Url>>,
        pub received: Mutex<Vec<(String, serde_json::Value)>>,
    }
    pub type Handle = Arc<Db>;

    #[derive(Clone, Debug, Deserialize, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Person {
        #[serde(rename = "type")]
        kind: PersonType,
        preferred_username: String,
        id: ObjectId<User>,
        inbox: Url,
        public_key: PublicKey,
        #[serde(default, deserialize_with = "deserialize_one_or_many", skip_serializing_if = "Vec::is_empty")]
        also_known_as: Vec<Url>,
    }

    #[derive(Clone, Debug, Deserialize, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Note {
        #[serde(rename = "type")]
        kind: NoteType,
        id: ObjectId<Post>,
        attributed_to: ObjectId<User>,
        #[serde(deserialize_with = "deserialize_one_or_many")]
        to: Vec<Url>,
        #[serde(default)]
        cc: Vec<Url>,
        content: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_reply_to: Option<Url>,
    }

    #[async_trait::async_trait]
    impl Object for User {
        type DataType = Handle;
        type Kind = Person;
        type Error = Error;
        fn id(&self) -> &Url {
            self.id.inner()
        }
        async fn read_from_id(id: Url, data: &Data<Handle>) -> Result<Option<Self>, Error> {
            if *data.me.id.inner() == id {
                return Ok(Some(data.me.clone()));
            }
            Ok(data.users.lock().unwrap().iter().find(|u| *u.id.inner() == id).cloned())
        }
        async fn into_json(self, _: &Data<Handle>) -> Result<Person, Error> {
            Ok(Person { kind: Default::default(), preferred_username: self.name.clone(), id: self.id.clone(), inbox: self.inbox.clone(), public_key: self.public_key(), also_known_as: self.also_known_as.clone() })
        }
        async fn verify(json: &Person, expected: &Url, _: &Data<Handle>) -> Result<(), Error> {
            verify_domains_match(json.id.inner(), expected)?;
            Ok(())
        }
        async fn from_json(json: Person, data: &Data<Handle>) -> Result<Self, Error> {
            let u = User { id: json.id, name: json.preferred_username, inbox: json.inbox, public_key: json.public_key.public_key_pem, private_key: None, also_known_as: json.also_known_as };
            data.users.lock().unwrap().push(u.clone());
            Ok(u)
        }
    }

    impl Actor for User {
        fn public_key_pem(&self) -> &str {
            &self.public_key
        }
        fn private_key_pem(&self) -> Option<String> {
            self.private_key.clone()
        }
        fn inbox(&self) -> Url {
            self.inbox.clone()
        }
    }

    #[async_trait::async_trait]
    impl Object for Post {
        type DataType = Handle;
        type Kind = Note;
        type Error = Error;
        fn id(&self) -> &Url {
            self.id.inner()
        }
        async fn read_from_id(id: Url, data: &Data<Handle>) -> Result<Option<Self>, Error> {
            Ok(data.posts.lock().unwrap().iter().find(|p| *p.id.inner() == id).cloned())
        }
        async fn into_json(self, data: &Data<Handle>) -> Result<Note, Error> {
            let public = Url::parse("https://www.w3.org/ns/activitystreams#Public")?;
            let followers = Url::parse(&format!("{}/followers", data.me.id.inner()))?;
            Ok(Note { kind: Default::default(), id: self.id, attributed_to: self.author, to: vec![public], cc: vec![followers], content: self.content, in_reply_to: self.in_reply_to })
        }
        async fn verify(json: &Note, expected: &Url, _: &Data<Handle>) -> Result<(), Error> {
            verify_domains_match(json.id.inner(), expected)?;
            Ok(())
        }
        async fn from_json(json: Note, data: &Data<Handle>) -> Result<Self, Error> {
            let p = Post { id: json.id, author: json.attributed_to, content: json.content, in_reply_to: json.in_reply_to };
            data.posts.lock().unwrap().push(p.clone());
            Ok(p)
        }
    }

    #[derive(Deserialize, Serialize, Clone, Debug)]
    #[serde(rename_all = "camelCase")]
    pub struct Follow {
        actor: ObjectId<User>,
        object: ObjectId<User>,
        #[serde(rename = "type")]
        kind: FollowType,
        id: Url,
    }

    #[derive(Deserialize, Serialize, Debug)]
    #[serde(rename_all = "camelCase")]
    pub struct Accept {
        actor: ObjectId<User>,
        object: serde_json::Value,
        #[serde(rename = "type")]
        kind: AcceptType,
        id: Url,
    }

    #[derive(Deserialize, Serialize, Debug)]
    #[serde(rename_all = "camelCase")]
    pub struct Create {
        actor: ObjectId<User>,
        object: Note,
        #[serde(rename = "type")]
        kind: CreateType,
        id: Url,
    }

    #[derive(Deserialize, Serialize, Debug)]
    #[serde(rename_all = "camelCase")]
    pub struct Like {
        actor: ObjectId<User>,
        object: Url,
        #[serde(rename = "type")]
        kind: LikeType,
        id: Url,
    }

    #[derive(Deserialize, Serialize, Debug)]
    #[serde(rename_all = "camelCase")]
    pub struct Move {
        actor: ObjectId<User>,
        object: ObjectId<User>,
        target: ObjectId<User>,
        #[serde(rename = "type")]
        kind: MoveType,
        id: Url,
    }

    /// Anything else pipit sends (Undo, Update, Delete, Announce…): recorded, not acted on.
    #[derive(Deserialize, Serialize, Debug)]
    pub struct Other {
        actor: ObjectId<User>,
        id: Url,
        #[serde(rename = "type")]
        kind: String,
        #[serde(flatten)]
        rest: serde_json::Map<String, serde_json::Value>,
    }

    fn log(data: &Data<Handle>, kind: &str, v: impl Serialize) {
        data.received.lock().unwrap().push((kind.to_string(), serde_json::to_value(v).unwrap_or_default()));
    }

    #[async_trait::async_trait]
    impl Activity for Follow {
        type DataType = Handle;
        type Error = Error;
        fn id(&self) -> &Url {
            &self.id
        }
        fn actor(&self) -> &Url {
            self.actor.inner()
        }
        async fn verify(&self, _: &Data<Handle>) -> Result<(), Error> {
            Ok(())
        }
        async fn receive(self, data: &Data<Handle>) -> Result<(), Error> {
            log(data, "Follow", &self);
            data.followers.lock().unwrap().push(self.actor.inner().clone());
            let follower = self.actor.dereference(data).await?;
            let accept = Accept { actor: data.me.id.clone(), object: serde_json::to_value(&self)?, kind: Default::default(), id: new_id(data)? };
            send(data, accept, vec![follower.inbox.clone()]).await
        }
    }

    #[async_trait::async_trait]
    impl Activity for Accept {
        type DataType = Handle;
        type Error = Error;
        fn id(&self) -> &Url {
            &self.id
        }
        fn actor(&self) -> &Url {
            self.actor.inner()
        }
        async fn verify(&self, _: &Data<Handle>) -> Result<(), Error> {
            Ok(())
        }
        async fn receive(self, data: &Data<Handle>) -> Result<(), Error> {
            log(data, "Accept", &self);
            Ok(())
        }
    }

    #[async_trait::async_trait]
    impl Activity for Create {
        type DataType = Handle;
        type Error = Error;
        fn id(&self) -> &Url {
            &self.id
        }
        fn actor(&self) -> &Url {
            self.actor.inner()
        }
        async fn verify(&self, data: &Data<Handle>) -> Result<(), Error> {
            Post::verify(&self.object, &self.id, data).await
        }
        async fn receive(self, data: &Data<Handle>) -> Result<(), Error> {
            log(data, "Create", &self);
            Post::from_json(self.object, data).await?;
            Ok(())
        }
    }

    #[async_trait::async_trait]
    impl Activity for Like {
        type DataType = Handle;
        type Error = Error;
        fn id(&self) -> &Url {
            &self.id
        }
        fn actor(&self) -> &Url {
            self.actor.inner()
        }
        async fn verify(&self, _: &Data<Handle>) -> Result<(), Error> {
            Ok(())
        }
        async fn receive(self, data: &Data<Handle>) -> Result<(), Error> {
            log(data, "Like", &self);
            Ok(())
        }
    }

    #[async_trait::async_trait]
    impl Activity for Other {
        type DataType = Handle;
        type Error = Error;
        fn id(&self) -> &Url {
            &self.id
        }
        fn actor(&self) -> &Url {
            self.actor.inner()
        }
        async fn verify(&self, _: &Data<Handle>) -> Result<(), Error> {
            Ok(())
        }
        async fn receive(self, data: &Data<Handle>) -> Result<(), Error> {
            let k = self.kind.clone();
            log(data, &k, &self);
            Ok(())
        }
    }

    /// The library has no account migration (Lemmy does not implement Move), so the peer does
    /// what Mastodon's follower side does, with the library's fetching and signing: the Move
    /// must be the account's own (actor = object), its target (fetched, signature-free GET)
    /// must list the old account in `alsoKnownAs`; then the peer follows the target.
    #[async_trait::async_trait]
    impl Activity for Move {
        type DataType = Handle;
        type Error = Error;
        fn id(&self) -> &Url {
            &self.id
        }
        fn actor(&self) -> &Url {
            self.actor.inner()
        }
        async fn verify(&self, _: &Data<Handle>) -> Result<(), Error> {
            if self.actor.inner() != self.object.inner() {
                return Err(anyhow::anyhow!("a Move of another account").into());
            }
            Ok(())
        }
        async fn receive(self, data: &Data<Handle>) -> Result<(), Error> {
            log(data, "Move", &self);
            let target = self.target.dereference(data).await?;
            if !target.also_known_as.contains(self.actor.inner()) {
                return Err(anyhow::anyhow!("the target does not list the moved account in alsoKnownAs").into());
            }
            let f = Follow { actor: data.me.id.clone(), object: target.id.clone(), kind: Default::default(), id: new_id(data)? };
            send(data, f, vec![target.inbox.clone()]).await
        }
    }

    /// What the inbox accepts, tried in order.
    #[derive(Deserialize, Serialize, Debug)]
    #[serde(untagged)]
    pub enum Inbox {
        Follow(Follow),
        Accept(Accept),
        Create(Create),
        Like(Like),
        Move(Move),
        Other(Other),
    }

    #[async_trait::async_trait]
    impl Activity for Inbox {
        type DataType = Handle;
        type Error = Error;
        fn id(&self) -> &Url {
            match self {
                Inbox::Follow(a) => a.id(),
                Inbox::Accept(a) => a.id(),
                Inbox::Create(a) => a.id(),
                Inbox::Like(a) => a.id(),
                Inbox::Move(a) => a.id(),
                Inbox::Other(a) => a.id(),
            }
        }
        fn actor(&self) -> &Url {
            match self {
                Inbox::Follow(a) => a.actor(),
                Inbox::Accept(a) => a.actor(),
                Inbox::Create(a) => a.actor(),
                Inbox::Like(a) => a.actor(),
                Inbox::Move(a) => a.actor(),
                Inbox::Other(a) => a.actor(),
            }
        }
        async fn verify(&self, data: &Data<Handle>) -> Result<(), Error> {
            match self {
                Inbox::Follow(a) => a.verify(data).await,
                Inbox::Accept(a) => a.verify(data).await,
                Inbox::Create(a) => a.verify(data).await,
                Inbox::Like(a) => a.verify(data).await,
                Inbox::Move(a) => a.verify(data).await,
                Inbox::Other(a) => a.verify(data).await,
            }
        }
        async fn receive(self, data: &Data<Handle>) -> Result<(), Error> {
            match self {
                Inbox::Follow(a) => a.receive(data).await,
                Inbox::Accept(a) => a.receive(data).await,
                Inbox::Create(a) => a.receive(data).await,
                Inbox::Like(a) => a.receive(data).await,
                Inbox::Move(a) => a.receive(data).await,
                Inbox::Other(a) => a.receive(data).await,
            }
        }
    }

    fn new_id(data: &Data<Handle>) -> Result<Url, Error> {
        let n = data.received.lock().unwrap().len() + data.posts.lock().unwrap().len();
        Ok(Url::parse(&format!("http://{}/objects/{}-{n}", data.domain(), std::process::id() as u64 * 1000 + n as u64 + rand_suffix()))?)
    }

    fn rand_suffix() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64
    }

    /// Signs (the library's own HTTP signatures) and delivers an activity.
    pub async fn send<A: Activity<DataType = Handle> + Serialize + std::fmt::Debug + Send + Sync>(data: &Data<Handle>, activity: A, inboxes: Vec<Url>) -> Result<(), Error>
    where
        <A as Activity>::Error: From<anyhow::Error> + From<serde_json::Error>,
    {
        let activity = WithContext::new_default(activity);
        let tasks = activitypub_federation::activity_sending::SendActivityTask::prepare(&activity, &data.me, inboxes, data).await?;
        for t in tasks {
            t.sign_and_send(data).await?;
        }
        Ok(())
    }

    pub struct Peer {
        pub config: FederationConfig<Handle>,
        pub host: String,
    }

    impl Peer {
        pub async fn start(name: &str) -> Peer {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            // The library wants a domain, not an IP literal (it checks url.domain()).
            let host = format!("localhost:{}", listener.local_addr().unwrap().port());
            let keys = generate_actor_keypair().unwrap();
            let me = User {
                id: Url::parse(&format!("http://{host}/{name}")).unwrap().into(),
                name: name.into(),
                inbox: Url::parse(&format!("http://{host}/{name}/inbox")).unwrap(),
                public_key: keys.public_key,
                private_key: Some(keys.private_key),
                also_known_as: vec![],
            };
            let db = Arc::new(Db { me, users: Mutex::new(vec![]), posts: Mutex::new(vec![]), followers: Mutex::new(vec![]), received: Mutex::new(vec![]) });
            // debug(true): plain http and loopback, as in the library's own local example.
            let config = FederationConfig::builder().domain(host.clone()).app_data(db).debug(true).build().await.unwrap();
            let app = Router::new()
                .route("/{user}/inbox", post(inbox))
                .route("/{user}", get(user))
                .route("/objects/{id}", get(object))
                .route("/.well-known/webfinger", get(webfinger))
                .layer(FederationMiddleware::new(config.clone()));
            tokio::spawn(async move { axum::serve(listener, app.into_make_service()).await.unwrap() });
            Peer { config, host }
        }

        pub fn data(&self) -> Data<Handle> {
            self.config.to_request_data()
        }

        pub fn db(&self) -> Handle {
            self.data().app_data().clone()
        }

        pub async fn follow(&self, handle: &str) -> Result<(), Error> {
            let data = self.data();
            let other: User = webfinger_resolve_actor(handle.trim_start_matches('@'), &data).await?;
            let f = Follow { actor: data.me.id.clone(), object: other.id.clone(), kind: Default::default(), id: new_id(&data)? };
            send(&data, f, vec![other.inbox.clone()]).await
        }

        /// Publishes a note to its followers (and to the author of `reply_to`).
        pub async fn post(&self, content: &str, reply_to: Option<(Url, Url)>) -> Result<Url, Error> {
            let data = self.data();
            let id = new_id(&data)?;
            let p = Post { id: id.clone().into(), author: data.me.id.clone(), content: content.into(), in_reply_to: reply_to.as_ref().map(|(u, _)| u.clone()) };
            data.posts.lock().unwrap().push(p.clone());
            let note = p.into_json(&data).await?;
            let create = Create { actor: data.me.id.clone(), object: note, kind: Default::default(), id: new_id(&data)? };
            let mut inboxes = vec![];
            for f in data.followers.lock().unwrap().clone() {
                let u: User = ObjectId::from(f).dereference(&data).await?;
                inboxes.push(u.inbox);
            }
            if let Some((_, inbox)) = reply_to {
                inboxes.push(inbox);
            }
            send(&data, create, inboxes).await?;
            Ok(id)
        }

        pub async fn like(&self, object: Url, inbox: Url) -> Result<(), Error> {
            let data = self.data();
            let like = Like { actor: data.me.id.clone(), object, kind: Default::default(), id: new_id(&data)? };
            send(&data, like, vec![inbox]).await
        }
    }

    async fn inbox(data: Data<Handle>, activity: ActivityData) -> impl IntoResponse {
        receive_activity::<WithContext<Inbox>, User, Handle>(activity, &data).await
    }

    async fn user(Path(name): Path<String>, data: Data<Handle>) -> Result<FederationJson<WithContext<Person>>, Error> {
        if name != data.me.name {
            return Err(anyhow::anyhow!("no such user").into());
        }
        Ok(FederationJson(WithContext::new_default(data.me.clone().into_json(&data).await?)))
    }

    async fn object(Path(id): Path<String>, data: Data<Handle>) -> Result<FederationJson<WithContext<Note>>, Error> {
        let url = Url::parse(&format!("http://{}/objects/{id}", data.domain()))?;
        let p = data.posts.lock().unwrap().iter().find(|p| *p.id.inner() == url).cloned().ok_or_else(|| anyhow::anyhow!("no such object"))?;
        Ok(FederationJson(WithContext::new_default(p.into_json(&data).await?)))
    }

    #[derive(Deserialize)]
    struct WebfingerQuery {
        resource: String,
    }

    async fn webfinger(Query(q): Query<WebfingerQuery>, data: Data<Handle>) -> Result<Json<Webfinger>, Error> {
        let name = extract_webfinger_name(&q.resource, &data)?;
        if name != data.me.name {
            return Err(anyhow::anyhow!("no such user").into());
        }
        Ok(Json(build_webfinger_response(q.resource.clone(), data.me.id.clone().into_inner())))
    }
}

use pipit::actions;
use pipit::model::{FollowState, Visibility};


#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_directions_with_activitypub_federation() {
    let a = Instance::start_localhost("alice").await;
    let lem = peer::Peer::start("lem").await;
    let db = lem.db();
    let alice = a.app.urls.actor();
    let lem_id = db.me.id.inner().to_string();

    // 1. The peer follows pipit (WebFinger, signed Follow); pipit accepts.
    lem.follow(&a.app.urls.handle()).await.expect("peer follows pipit");
    eventually("pipit stores the peer as follower", 10, || a.app.store.read(|r| r.follower(&lem_id)).unwrap().is_some()).await;
    eventually("the peer verifies pipit's Accept", 10, || db.received.lock().unwrap().iter().any(|(k, _)| k == "Accept")).await;

    // 2. pipit posts; the peer verifies the signature and stores the Note.
    let p = actions::publish(&a.app, actions::Compose { text: "Hello Lemmy's library".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap();
    eventually("the peer receives pipit's post", 10, || db.posts.lock().unwrap().iter().any(|x| x.id.inner().as_str() == p.uri && x.content.contains("Hello Lemmy"))).await;

    // 3. pipit follows the peer; the peer accepts; the peer posts; pipit receives it.
    actions::follow(&a.app, &format!("@lem@{}", lem.host)).await.expect("pipit follows the peer");
    eventually("pipit's follow accepted", 10, || matches!(a.app.store.read(|r| r.following(&lem_id)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
    let note = lem.post("A note from the peer", None).await.expect("peer posts");
    eventually("pipit stores the peer's note", 10, || a.app.store.read(|r| r.post_by_uri(note.as_str())).unwrap().is_some()).await;
    let (home, _) = a.app.store.read(|r| r.home(None, 10)).unwrap();
    assert!(home.iter().any(|(_, _, x)| x.uri == note.as_str()), "on pipit's home timeline");

    // 4. Replies and likes, both ways.
    let alice_inbox = url::Url::parse(&format!("{alice}/inbox")).unwrap();
    let reply = lem.post("Replying to alice", Some((url::Url::parse(&p.uri).unwrap(), alice_inbox.clone()))).await.unwrap();
    eventually("pipit threads the peer's reply", 10, || a.app.store.read(|r| r.replies(&p.uri, 10)).unwrap().iter().any(|x| x.uri == reply.as_str())).await;
    lem.like(url::Url::parse(&p.uri).unwrap(), alice_inbox).await.unwrap();
    eventually("pipit records the peer's like", 10, || a.app.store.read(|r| r.interactions(&p.uri, "like", 10)).unwrap().iter().any(|(w, _)| *w == lem_id)).await;
    actions::like(&a.app, note.as_str()).await.unwrap();
    eventually("the peer receives pipit's Like", 10, || db.received.lock().unwrap().iter().any(|(k, v)| k == "Like" && v["object"] == note.as_str())).await;
    let r = actions::publish(&a.app, actions::Compose { text: "Replying back".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: Some(note.to_string()), media: Vec::new(), quote: None }).await.unwrap();
    eventually("the peer receives pipit's reply", 10, || db.posts.lock().unwrap().iter().any(|x| x.id.inner().as_str() == r.uri && x.in_reply_to.as_ref().map(|u| u.as_str()) == Some(note.as_str()))).await;

    // The post page shows the peer's reply and like.
    let page = a.client().get(&format!("/@alice/{}", p.id)).await;
    assert!(page.body.contains("Replying to alice") && page.body.contains("Liked by"), "post page shows them");
}

/// Issue 8: a profile save reaches an independent follower as one signed Update(Person) that
/// its library verifies (Lemmy refreshes its copy of the account from it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peer_gets_one_signed_update_person_per_profile_save() {
    let a = Instance::start_localhost("alice").await;
    let lem = peer::Peer::start("lem").await;
    let db = lem.db();
    let lem_id = db.me.id.inner().to_string();
    lem.follow(&a.app.urls.handle()).await.expect("peer follows pipit");
    eventually("pipit stores the peer as follower", 10, || a.app.store.read(|r| r.follower(&lem_id)).unwrap().is_some()).await;
    let edit = pipit::domain::owner::ProfileEdit { display_name: "Alice, renamed".into(), bio: "a new bio".into(), fields: vec![] };
    pipit::domain::owner::update_profile(&a.app, edit).unwrap();
    let updates = || db.received.lock().unwrap().iter().filter(|(k, _)| k == "Update").map(|(_, v)| v.clone()).collect::<Vec<_>>();
    eventually("the peer verifies pipit's Update(Person)", 10, || !updates().is_empty()).await;
    let u = updates();
    assert_eq!(u.len(), 1, "one Update for one save: {u:?}");
    assert_eq!(u[0]["object"]["type"], "Person");
    assert_eq!(u[0]["object"]["id"], a.app.urls.actor().as_str());
    assert_eq!(u[0]["object"]["name"], "Alice, renamed");
}

/// Issue 12, moving out, with Lemmy's library as the follower: it verifies pipit's signed Move
/// (actor = object = the old account, target = the new one) like any activity, fetches the
/// target, checks its `alsoKnownAs`, and follows it (the peer's Move handler above: the library
/// itself has no migration logic). After the Move the new pipit account has the peer as
/// follower and the peer has its Accept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_pipits_signed_move_the_peer_follows_the_new_account() {
    let old = Instance::start_localhost("old").await;
    let new = Instance::start_localhost("new").await;
    let lem = peer::Peer::start("lem").await;
    let db = lem.db();
    let lem_id = db.me.id.inner().to_string();
    lem.follow(&old.app.urls.handle()).await.expect("peer follows pipit");
    eventually("pipit stores the peer as follower", 10, || old.app.store.read(|r| r.follower(&lem_id)).unwrap().is_some()).await;
    pipit::actions::add_alias(&new.app, &old.app.urls.handle()).await.expect("alias on the new account");
    pipit::actions::move_account(&old.app, &new.app.urls.handle()).await.expect("move");
    let moves = || db.received.lock().unwrap().iter().filter(|(k, _)| k == "Move").map(|(_, v)| v.clone()).collect::<Vec<_>>();
    eventually("the peer verifies pipit's Move", 10, || !moves().is_empty()).await;
    let m = moves();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["actor"], old.app.urls.actor().as_str());
    assert_eq!(m[0]["object"], old.app.urls.actor().as_str());
    assert_eq!(m[0]["target"], new.app.urls.actor().as_str());
    let new_id = new.app.urls.actor();
    eventually("the new account has the peer as follower", 10, || new.app.store.read(|r| r.follower(&lem_id)).unwrap().is_some()).await;
    eventually("the peer verifies the new account's Accept", 10, || db.received.lock().unwrap().iter().any(|(k, v)| k == "Accept" && v["actor"] == new_id.as_str())).await;
}
